import type { NodeAgentPort } from '../ports.ts';
import { databaseStrategy } from './database.ts';
import { nothingToConverge, type RoleStrategy } from './index.ts';

/** Role -> strategy. A new role is one module and one line here. */
export function roleStrategies(agent: NodeAgentPort): (role: string) => RoleStrategy {
  const strategies: Record<string, RoleStrategy> = {
    database: databaseStrategy(agent),
  };
  return (role) => strategies[role] ?? nothingToConverge;
}
