/** What an `Authorization: Basic` header carries: base64 of user:password. */
export function basicCredentials(user: string, password: string): string {
  return Buffer.from(`${user}:${password}`).toString('base64');
}
