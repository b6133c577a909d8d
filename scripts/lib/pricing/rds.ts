import type { CostLine, PricingModule } from './module';
import { secretLine } from './secrets-manager';

/** PostgreSQL instances: the instance hour and gp3 storage, twice for Multi-AZ, and the RDS-managed master secret. */
export const rds: PricingModule = {
  resourceTypes: ['AWS::RDS::DBInstance'],
  price({ id, props: p }, { prices }) {
    const cls = String(p.DBInstanceClass);
    const hour = prices.rds.postgresInstanceHour[cls];
    if (hour === undefined || p.Engine !== 'postgres') return { notPriced: `${p.Engine} ${cls}` };
    const copies = p.MultiAZ === true || p.MultiAZ === 'true' ? 2 : 1;
    const storage = Number(p.AllocatedStorage ?? 20);
    const lines: CostLine[] = [
      { category: 'RDS instances', item: `RDS ${id}`, quantity: `${cls}${copies === 2 ? ' Multi-AZ' : ''}`, monthlyUsd: copies * hour * prices.hoursPerMonth },
      { category: 'RDS storage', item: `RDS storage ${id}`, quantity: `${storage} GB gp3${copies === 2 ? ' x 2' : ''}`, monthlyUsd: copies * storage * prices.rds.gp3GbMonth },
    ];
    if (p.ManageMasterUserPassword === true) lines.push({ ...secretLine(`RDS-managed secret ${id}`), monthlyUsd: prices.secretMonth });
    return { lines };
  },
};
