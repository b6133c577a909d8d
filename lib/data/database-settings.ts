/**
 * The stage database's settings that are not in the stage config, written once: the data stack
 * gives them to the instance (database.ts), and the failover gives them to the instance it
 * restores in the DR region by API (scripts/lib/failover.ts), where no template exists to read
 * them from. No imports, so commands load it without the CDK.
 */
export const DATABASE_SETTINGS = {
  port: 5432,
  /** UTC; the daily automated backup. */
  backupWindow: '02:00-03:00',
  /** UTC; after the backup window. */
  maintenanceWindow: 'sun:03:30-sun:04:30',
  /** The CloudWatch Logs exports. */
  logExports: ['postgresql', 'upgrade'],
  /** The RDS CA the app and the functions trust (lambda/shared bundles its certificates). */
  caCertificate: 'rds-ca-rsa2048-g1',
  storageType: 'gp3',
  /** Performance Insights' free retention. */
  performanceInsightsRetentionDays: 7,
  /** Seconds between enhanced-monitoring samples where Performance Insights is on. */
  monitoringIntervalSeconds: 60,
} as const;
