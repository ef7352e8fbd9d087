import { ControllerDownError, OaError, traitsOf, type Remote } from '../errors';
import type { Config } from '../runtime/config';

/**
 * What to change after a failure, told the same by `check` and by `sync`: the one table of hints.
 * Nothing where the error's own message names the fix already (a certificate, credentials, a setting).
 */
export function fixFor(e: unknown, config: Pick<Config, 'oaPort'>): string | undefined {
  // A controller given up on is fixed as its last failure is.
  if (e instanceof ControllerDownError) return fixFor(e.lastError, config);
  const { namesFix, tokenRefused, retryable, code } = traitsOf(e);
  if (namesFix) return undefined;
  if (tokenRefused)
    return 'the controller refused a fresh token: check the system clock and that APS_URL points at this OA';
  if (e instanceof OaError) return OA_ERROR_FIXES[e.method];
  const remote = (e as { remote?: Remote }).remote;
  switch (code) {
    case 'OBS_ERR_NETWORK':
      return remote === 'oa'
        ? `check OA_HOST and OA_PORT (${config.oaPort}), that the OA Public API is enabled there, and that it allows this host's IP`
        : "check that this host reaches the controller (firewall, port 6308), or set APS_URL to the controller's address";
    case 'OBS_ERR_OA_HTTP':
    case 'OBS_ERR_OA_FAULT':
      return NOT_OA;
    case 'OBS_ERR_PROTOCOL':
      return remote === 'oa' ? NOT_OA : NOT_CONTROLLER;
    case 'OBS_ERR_APS':
      // An overloaded controller, or a proxy whose controller is down, is the right one: nothing to change.
      return retryable ? undefined : NOT_CONTROLLER;
    default:
      return undefined;
  }
}

/** The failure in the remote's words, and what to change unless those words already say it. */
export function withFix(e: unknown, config: Pick<Config, 'oaPort'>): string {
  const fix = fixFor(e, config);
  return fix ? `${(e as Error).message}; fix: ${fix}` : (e as Error).message;
}

const NOT_OA = 'something answered that is not the OA Public API: check OA_HOST, OA_PORT (usually 8440) and OA_TLS';
const NOT_CONTROLLER = 'check APS_URL points at the APS controller (https://<OA host>:6308/) and APS_TENANT_TYPE';

/** OA answered, took the credentials, and refused the call: what each call's refusal asks to change. */
const OA_ERROR_FIXES: Record<string, string> = {
  'pem.APS.getApplicationInstances': "OFFICE_APP_ID must be the Office 365 application's ID in OA (not an instance ID)",
  'pem.APS.getApplicationInstanceToken': "check in OA that the application's instance is ready",
};
