/** Coded errors of quotas; admission refusals are `quota_<AdmissionRefusalCode>` (see quota.policy.ts). */
export enum QuotaErrorCode {
  Invalid = 'quota_invalid',
  CeilingAdminOnly = 'quota_ceiling_admin_only',
}
