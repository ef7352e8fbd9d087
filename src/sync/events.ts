import type { Instance, Tenant } from './ports';
import type { PassCounts } from './summary';
import type { RenewalReason } from './token-policy';

/** What a pass tells its onlookers (the log, the progress bar) as it goes. Every hook is optional. */
export interface PassEvents {
  instancesListed?(instances: Instance[]): void;
  instanceStarted?(instance: Instance): void;
  instanceFinished?(instance: Instance, counts: PassCounts): void;
  instanceFailed?(instance: Instance, error: Error): void;
  tokenRenewed?(instance: Instance, reason: RenewalReason): void;
  tenantDone?(instance: Instance, tenant: Tenant): void;
  tenantFailed?(instance: Instance, tenant: Tenant, message: string, failedObjects?: { objectName: string; comment: string | null }[]): void;
  tenantSkipped?(instance: Instance, tenant: Tenant, message: string): void;
  wouldResync?(instance: Instance, tenant: Tenant): void;
}
