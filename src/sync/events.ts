import type { Instance, Tenant } from './ports';
import type { PassCounts } from './summary';
import type { RenewalReason } from './token-policy';

/** What a pass tells its onlookers (the log, the progress bar) as it goes. Every hook is optional. */
export interface PassEvents {
  instancesListed?(instances: Instance[]): void;
  instanceStarted?(instance: Instance): void;
  /** How many ready tenants the controller says the instance has; heard again with each listing page. */
  tenantsCounted?(instance: Instance, total: number): void;
  instanceFinished?(instance: Instance, counts: PassCounts): void;
  instanceFailed?(instance: Instance, error: Error): void;
  tokenRenewed?(instance: Instance, reason: RenewalReason): void;
  tenantDone?(instance: Instance, tenant: Tenant): void;
  /** A tenant an earlier run of this pass had already done, passed over. */
  tenantAlreadyDone?(instance: Instance, tenant: Tenant): void;
  /** The controller answered a tenant's resync with 2xx, whatever its report says: it kept up. */
  resyncAnswered?(instance: Instance, tenant: Tenant): void;
  tenantFailed?(instance: Instance, tenant: Tenant, message: string, failedObjects?: { objectName: string; comment: string | null }[]): void;
  tenantSkipped?(instance: Instance, tenant: Tenant, message: string): void;
  wouldResync?(instance: Instance, tenant: Tenant): void;
}
