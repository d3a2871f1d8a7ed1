import { Module } from '@nestjs/common';
import { LedgerAdminService } from './ledger-admin.service';
import { LedgerController } from './ledger.controller';
import { LedgerService } from './ledger.service';

/** The usage ledger. Other modules append through LedgerService (exported); the routes are campus IT's. */
@Module({
  controllers: [LedgerController],
  providers: [LedgerService, LedgerAdminService],
  exports: [LedgerService, LedgerAdminService],
})
export class LedgerModule {}
