import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export const CAMPUS_ROLES = ['admin', 'staff', 'student'] as const;
export type CampusRole = (typeof CAMPUS_ROLES)[number];

@Entity('users')
export class User {
  @PrimaryGeneratedColumn('uuid') id!: string;

  /** The name in `/user/<username>/…` URLs: lower-case, stable, unique. */
  @Index('uq_users_username', { unique: true })
  @Column({ type: 'varchar', length: 64 })
  username!: string;

  @Column({ name: 'display_name', type: 'varchar', length: 200, default: '' }) displayName!: string;
  @Column({ type: 'varchar', length: 320, nullable: true }) email!: string | null;

  @Column({ name: 'campus_role', type: 'enum', enum: CAMPUS_ROLES, enumName: 'campus_role', default: 'student' })
  campusRole!: CampusRole;

  /** Set by campus IT (CLI/API): SSO sign-ins then leave the campus role alone. */
  @Column({ name: 'campus_role_pinned', type: 'boolean', default: false }) campusRolePinned!: boolean;
  @Column({ name: 'last_sign_in_at', type: 'timestamptz', nullable: true }) lastSignInAt!: Date | null;

  @Column({ name: 'disabled_at', type: 'timestamptz', nullable: true }) disabledAt!: Date | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}
