import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { CourseAccess, CourseRoles, CurrentCourse, CurrentPrincipal, Principal, Scopes } from '../auth/auth.decorators';
import { LaunchLabDto } from './labs.dto';
import { labView, LabsService } from './labs.service';

@ApiTags('labs')
@ApiBearerAuth()
@Controller('api/labs')
export class LabsController {
  constructor(private readonly labs: LabsService) {}

  @Get()
  @Scopes('read', 'labs')
  async list(@CurrentPrincipal() p: Principal, @Query('all') all?: string) {
    return (await this.labs.list(p, all === 'true')).map(labView);
  }

  @Get('launchable')
  @Scopes('read', 'labs')
  launchable(@CurrentPrincipal() p: Principal) {
    return this.labs.launchable(p);
  }

  /** 202 with the new lab, or 200 with the caller's live lab for that template. */
  @Post()
  @Scopes('labs')
  async launch(
    @CurrentPrincipal() p: Principal,
    @Body() body: LaunchLabDto,
    @Res({ passthrough: true }) res: Response,
  ) {
    const { created, session } = await this.labs.launch(p, body.templateId);
    res.status(created ? 202 : 200);
    return labView(session);
  }

  @Get(':id')
  @Scopes('read', 'labs')
  async get(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    return labView(await this.labs.get(p, id));
  }

  /**
   * Server-Sent Events: `{progress, message}` steps, then a final event with `ready` or `failed`.
   * With `?follow=true` the stream stays open while the lab lives and carries its notifications too
   * (GPU queue position, slice and budget warnings, stops), ending when the lab is over.
   */
  @Get(':id/progress')
  @Scopes('read', 'labs')
  @ApiProduces('text/event-stream')
  async progress(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Req() req: Request,
    @Res() res: Response,
    @Query('follow') follow?: string,
  ): Promise<void> {
    await this.labs.get(p, id); // 404 as JSON before the stream starts
    res.status(200).set({
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    let closed = false;
    req.on('close', () => (closed = true));
    // Each step carries its id, so a reconnecting EventSource resumes (Last-Event-ID) without repeats.
    await this.labs.streamProgress(
      p,
      id,
      (e, eventId) => res.write(`${eventId ? `id: ${eventId}\n` : ''}data: ${JSON.stringify(e)}\n\n`),
      () => closed,
      String(req.headers['last-event-id'] ?? '0'),
      follow === 'true' || follow === '1',
    );
    res.end();
  }

  @Delete(':id')
  @Scopes('labs')
  @HttpCode(202)
  async stop(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    return labView(await this.labs.stop(p, id));
  }
}

/** A course's labs, for its instructors and TAs (and admins). */
@ApiTags('courses')
@ApiBearerAuth()
@Controller('api/courses/:courseId/labs')
export class CourseLabsController {
  constructor(private readonly labs: LabsService) {}

  @Get()
  @Scopes('read')
  @CourseRoles('instructor', 'ta')
  list(@CurrentPrincipal() p: Principal, @CurrentCourse() c: CourseAccess) {
    return this.labs.listForCourse(p, c);
  }
}
