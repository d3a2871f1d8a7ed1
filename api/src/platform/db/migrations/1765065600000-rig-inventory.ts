import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What registration discovered on a rig through its engine (issue 9): CPUs, memory, disk, Docker,
 * GPUs with their PCIe links, as one document (`inventory`, null until an engine answered) and when
 * (`inventory_at`). `capacity_given` names the capacities an admin set by hand (`cpus`, `memoryMb`);
 * the others follow what a re-discovery finds. Rigs registered before keep theirs as given.
 */
export class RigInventory1765065600000 implements MigrationInterface {
  name = 'RigInventory1765065600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "rigs" ADD "inventory" jsonb`);
    await q.query(`ALTER TABLE "rigs" ADD "inventory_at" TIMESTAMP WITH TIME ZONE`);
    await q.query(`ALTER TABLE "rigs" ADD "capacity_given" text array NOT NULL DEFAULT '{cpus,memoryMb}'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "rigs" DROP COLUMN "capacity_given"`);
    await q.query(`ALTER TABLE "rigs" DROP COLUMN "inventory_at"`);
    await q.query(`ALTER TABLE "rigs" DROP COLUMN "inventory"`);
  }
}
