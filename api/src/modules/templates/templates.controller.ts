import { Body, Controller, Get, HttpCode, Inject, Param, Patch, Post, Put, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { CONFIG } from '../../platform/config/config.module';
import type { Config } from '../../platform/config/config';
import { AppError } from '../../platform/http/app-error';
import { CourseAccess, CourseRoles, CurrentCourse, CurrentPrincipal, Principal, Scopes } from '../auth/auth.decorators';
import { actorOf } from '../courses/actor';
import { ARCHIVE_CONTENT_TYPES, readUpload } from './starter-upload';
import { TEMPLATE_BODY_SCHEMA, PublishTemplateDto } from './templates.dto';
import { TemplateErrorCode } from './templates.errors';
import { TemplatesService } from './templates.service';

type Req = Request & { id?: string };

/**
 * A course's lab templates for the people who teach it: instructors write and publish, TAs read,
 * campus admins may do everything. Students see published templates through /api/labs/launchable.
 */
@ApiTags('templates')
@ApiBearerAuth()
@Controller('api/courses/:courseId/templates')
export class TemplatesController {
  constructor(
    private readonly templates: TemplatesService,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  @Get()
  @Scopes('read')
  @CourseRoles('instructor', 'ta')
  list(@CurrentCourse() c: CourseAccess) {
    return this.templates.list(c.course, false);
  }

  @Post()
  @Scopes('courses:admin')
  @CourseRoles('instructor')
  @ApiBody({ schema: TEMPLATE_BODY_SCHEMA })
  async create(
    @CurrentPrincipal() p: Principal,
    @CurrentCourse() c: CourseAccess,
    @Body() body: unknown,
    @Req() req: Req,
  ) {
    const saved = await this.templates.create(actorOf(p, req), c.course, body);
    return {
      ...(await this.templates.get(c.course, saved.template.id)),
      created: saved.created,
      changed: saved.changed,
    };
  }

  @Get(':templateId')
  @Scopes('read')
  @CourseRoles('instructor', 'ta')
  get(@CurrentCourse() c: CourseAccess, @Param('templateId') id: string) {
    return this.templates.get(c.course, id);
  }

  /** Any field but slug; a new version when something a lab uses changed (`created` says whether). */
  @Patch(':templateId')
  @Scopes('courses:admin')
  @CourseRoles('instructor')
  @ApiBody({ schema: TEMPLATE_BODY_SCHEMA })
  async edit(
    @CurrentPrincipal() p: Principal,
    @CurrentCourse() c: CourseAccess,
    @Param('templateId') id: string,
    @Body() body: unknown,
    @Req() req: Req,
  ) {
    const saved = await this.templates.edit(actorOf(p, req), c.course, id, body);
    return { ...(await this.templates.get(c.course, id)), created: saved.created, changed: saved.changed };
  }

  @Post(':templateId/publish')
  @HttpCode(200)
  @Scopes('courses:admin')
  @CourseRoles('instructor')
  async publish(
    @CurrentPrincipal() p: Principal,
    @CurrentCourse() c: CourseAccess,
    @Param('templateId') id: string,
    @Body() body: PublishTemplateDto,
    @Req() req: Req,
  ) {
    await this.templates.publish(actorOf(p, req), c.course, id, body?.version);
    return this.templates.get(c.course, id);
  }

  @Post(':templateId/unpublish')
  @HttpCode(200)
  @Scopes('courses:admin')
  @CourseRoles('instructor')
  async unpublish(
    @CurrentPrincipal() p: Principal,
    @CurrentCourse() c: CourseAccess,
    @Param('templateId') id: string,
    @Req() req: Req,
  ) {
    await this.templates.unpublish(actorOf(p, req), c.course, id);
    return this.templates.get(c.course, id);
  }

  /** The raw archive as the body (tar, tar.gz or zip); a new version uses it as the starter files. */
  @Put(':templateId/starter')
  @Scopes('courses:admin')
  @CourseRoles('instructor')
  @ApiConsumes(...ARCHIVE_CONTENT_TYPES)
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  async uploadStarter(
    @CurrentPrincipal() p: Principal,
    @CurrentCourse() c: CourseAccess,
    @Param('templateId') id: string,
    @Req() req: Req,
  ) {
    await this.templates.byId(c.course, id);
    const buf = await readUpload(req, this.config.starters.uploadMaxBytes);
    const saved = await this.templates.uploadStarter(actorOf(p, req), c.course, id, buf);
    return { ...(await this.templates.get(c.course, id)), created: saved.created, changed: saved.changed };
  }

  /** What a student gets from a version (default the latest): resources, GPU in words, limits, env names, files. */
  @Get(':templateId/preview')
  @Scopes('read')
  @CourseRoles('instructor', 'ta')
  preview(@CurrentCourse() c: CourseAccess, @Param('templateId') id: string, @Query('version') version?: string) {
    if (version !== undefined && !/^[1-9]\d{0,6}$/.test(version))
      throw new AppError(
        TemplateErrorCode.Invalid,
        'invalid',
        `version must be a whole number from 1 (got '${version}')`,
      );
    return this.templates.preview(c.course, id, version === undefined ? undefined : Number(version));
  }
}
