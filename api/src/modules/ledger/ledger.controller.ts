import { Body, Controller, Get, Headers, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { CampusRoles, CurrentPrincipal, Principal, Scopes } from '../auth/auth.decorators';
import { LedgerAdminService } from './ledger-admin.service';
import { contentType } from './ledger-export';
import { AdjustmentDto, ExportQueryDto, LedgerQueryDto } from './ledger.dto';
import { badQuery } from './ledger.errors';
import { LedgerService } from './ledger.service';

/** The usage ledger, for campus IT: verify, read, export, correct. */
@ApiTags('ledger')
@ApiBearerAuth()
@CampusRoles('admin')
@Controller('api/ledger')
export class LedgerController {
  constructor(
    private readonly ledger: LedgerService,
    private readonly admin: LedgerAdminService,
  ) {}

  /** Recomputes the chain; `ok: false` with `firstBad` names the first entry altered, removed, inserted or reordered. */
  @Get('verify')
  @Scopes('read', 'admin')
  verify() {
    return this.ledger.verify();
  }

  /** Every entry, every column, hashes included: enough to re-verify the chain offline. Streamed. */
  @Get('export')
  @Scopes('read', 'admin')
  @ApiProduces('text/csv', 'application/json')
  async export(@Query() q: ExportQueryDto, @Req() req: Request, @Res() res: Response): Promise<void> {
    const format = q.format ?? 'csv';
    const now = new Date();
    res.status(200).set({
      'Content-Type': contentType(format),
      'Content-Disposition': `attachment; filename="riglab-ledger-${now.toISOString().slice(0, 10)}.${format}"`,
      'Cache-Control': 'no-store',
    });
    let gone = false;
    req.on('close', () => (gone = true));
    for await (const chunk of this.admin.export(format, now)) {
      if (gone) break;
      // Wait for the socket to take each batch: a slow download reads the database no faster than it drains.
      if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
    }
    res.end();
  }

  /** Newest first, with usernames and course codes; page back with `before=<nextBefore>`. */
  @Get()
  @Scopes('read', 'admin')
  list(@Query() q: LedgerQueryDto) {
    return this.admin.list(q);
  }

  /** A manual correction, recorded as a new `adjustment` entry with the admin as its actor. */
  @Post('adjustments')
  @Scopes('admin')
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'a retry with the same key records nothing new' })
  adjust(
    @Body() body: AdjustmentDto,
    @CurrentPrincipal() p: Principal,
    @Req() req: Request & { id?: string },
    @Headers('idempotency-key') idem?: string,
  ) {
    if (idem !== undefined && !/^[A-Za-z0-9._:-]{1,100}$/.test(idem))
      throw badQuery('Idempotency-Key must be 1 to 100 letters, digits or . _ : -');
    return this.admin.adjust(
      {
        userId: p.user.id,
        actor: `user:${p.user.username}`,
        requestId: req.id ? String(req.id) : undefined,
        idempotencyKey: idem,
      },
      body,
    );
  }
}
