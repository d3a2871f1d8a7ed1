import { DockerSpawner } from '../../../../spawner/src';

export const SPAWNER = Symbol('riglab.spawner');

/** The Docker driver today; a Kubernetes driver would be another provider of the same port. */
export const spawnerProvider = { provide: SPAWNER, useFactory: () => new DockerSpawner() };
