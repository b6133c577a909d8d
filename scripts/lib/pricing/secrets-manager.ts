import type { CostLine, PricingModule } from './module';

/** A secret a month, whoever manages it (Secrets Manager, or RDS for its master password). */
export const secretLine = (item: string): Omit<CostLine, 'monthlyUsd'> => ({ category: 'Secrets', item, quantity: '1 secret' });

export const secretsManager: PricingModule = {
  resourceTypes: ['AWS::SecretsManager::Secret'],
  price({ id }, { prices }) {
    return { lines: [{ ...secretLine(`Secret ${id}`), monthlyUsd: prices.secretMonth }] };
  },
};
