import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { User } from '../users/user.entity';

/** Only the SHA-256 of a token is stored; the token itself is shown once, at creation. */
@Entity('api_tokens')
export class ApiToken {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Index('ix_api_tokens_user')
  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;
  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: User;
  @Column({ type: 'varchar', length: 100, default: '' }) name!: string;
  /** The first characters of the token, to recognise it in a list without revealing it. */
  @Column({ type: 'varchar', length: 16 }) prefix!: string;
  @Index('uq_api_tokens_hash', { unique: true })
  @Column({ type: 'char', length: 64 })
  hash!: string;
  @Column({ type: 'text', array: true, default: () => "'{}'" }) scopes!: string[];
  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true }) expiresAt!: Date | null;
  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true }) lastUsedAt!: Date | null;
  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true }) revokedAt!: Date | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}
