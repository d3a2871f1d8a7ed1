import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import {
  CampusRoles,
  CourseAccess,
  CourseRoles,
  CurrentCourse,
  CurrentPrincipal,
  Principal,
  Scopes,
} from '../auth/auth.decorators';
import { actorOf } from './actor';
import { CourseMembersService } from './course-members.service';
import { CourseErrorCode } from './courses.errors';
import { CreateCourseDto, PutMemberDto, RosterImportDto, UpdateCourseDto } from './courses.dto';
import { CoursesService } from './courses.service';

type Req = Request & { id?: string };

/**
 * Courses and their rosters. Reading takes the `read` scope, changing `courses:admin`; who may do what
 * in a course comes from their role in it (campus admins may do everything).
 */
@ApiTags('courses')
@ApiBearerAuth()
@Controller('api/courses')
export class CoursesController {
  constructor(
    private readonly courses: CoursesService,
    private readonly members: CourseMembersService,
  ) {}

  @Get()
  @Scopes('read')
  list(@CurrentPrincipal() p: Principal, @Query('archived') archived?: string) {
    return this.courses.listFor(p.user, archived === 'true');
  }

  @Post()
  @Scopes('courses:admin')
  @CampusRoles('admin', 'staff')
  async create(@CurrentPrincipal() p: Principal, @Body() body: CreateCourseDto, @Req() req: Req) {
    const course = await this.courses.create(actorOf(p, req), body);
    return this.courses.detail(course, p.user.campusRole === 'staff' ? 'instructor' : null, true);
  }

  @Get(':courseId')
  @Scopes('read')
  @CourseRoles('instructor', 'ta', 'student')
  get(@CurrentPrincipal() p: Principal, @CurrentCourse() c: CourseAccess) {
    return this.courses.detail(c.course, c.role, p.user.campusRole === 'admin');
  }

  @Patch(':courseId')
  @Scopes('courses:admin')
  @CourseRoles('instructor')
  async update(
    @CurrentPrincipal() p: Principal,
    @CurrentCourse() c: CourseAccess,
    @Body() body: UpdateCourseDto,
    @Req() req: Req,
  ) {
    const course = await this.courses.update(actorOf(p, req), c.course, body);
    return this.courses.detail(course, c.role, p.user.campusRole === 'admin');
  }

  @Post(':courseId/archive')
  @HttpCode(200)
  @Scopes('courses:admin')
  @CourseRoles('instructor')
  async archive(@CurrentPrincipal() p: Principal, @CurrentCourse() c: CourseAccess, @Req() req: Req) {
    const course = await this.courses.setArchived(actorOf(p, req), c.course, true);
    return this.courses.detail(course, c.role, p.user.campusRole === 'admin');
  }

  @Post(':courseId/unarchive')
  @HttpCode(200)
  @Scopes('courses:admin')
  @CourseRoles('instructor')
  async unarchive(@CurrentPrincipal() p: Principal, @CurrentCourse() c: CourseAccess, @Req() req: Req) {
    const course = await this.courses.setArchived(actorOf(p, req), c.course, false);
    return this.courses.detail(course, c.role, p.user.campusRole === 'admin');
  }

  @Get(':courseId/members')
  @Scopes('read')
  @CourseRoles('instructor', 'ta')
  listMembers(@CurrentCourse() c: CourseAccess) {
    return this.members.list(c.course);
  }

  @Put(':courseId/members/:username')
  @Scopes('courses:admin')
  @CourseRoles('instructor')
  putMember(
    @CurrentPrincipal() p: Principal,
    @CurrentCourse() c: CourseAccess,
    @Param('username') username: string,
    @Body() body: PutMemberDto,
    @Req() req: Req,
  ) {
    return this.members.put(actorOf(p, req), c.course, username, body.role);
  }

  @Delete(':courseId/members/:username')
  @HttpCode(204)
  @Scopes('courses:admin')
  @CourseRoles('instructor')
  async removeMember(
    @CurrentPrincipal() p: Principal,
    @CurrentCourse() c: CourseAccess,
    @Param('username') username: string,
    @Req() req: Req,
  ): Promise<void> {
    await this.members.remove(actorOf(p, req), c.course, username);
  }

  /** 200 with the preview (applied when not a dry run), or 422 with the same body when a row is bad. */
  @Post(':courseId/roster/import')
  @Scopes('courses:admin')
  @CourseRoles('instructor')
  async importRoster(
    @CurrentPrincipal() p: Principal,
    @CurrentCourse() c: CourseAccess,
    @Body() body: RosterImportDto,
    @Req() req: Req,
    @Res({ passthrough: true }) res: Response,
  ) {
    const preview = await this.members.importCsv(actorOf(p, req), c.course, body.csv, body.dryRun);
    if (preview.summary.error === 0) {
      res.status(200);
      return preview;
    }
    res.status(422);
    return {
      code: CourseErrorCode.RosterInvalid,
      message: `the roster file has ${preview.summary.error} bad row(s); nothing was changed`,
      ...preview,
    };
  }
}
