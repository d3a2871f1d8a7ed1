import { Body, Controller, Get, Put, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import {
  CampusRoles,
  CourseAccess,
  CourseRoles,
  CurrentCourse,
  CurrentPrincipal,
  Principal,
  Scopes,
} from '../auth/auth.decorators';
import { actorOf } from '../courses/actor';
import { UpdateQuotaDto } from './quota.dto';
import { QuotaService } from './quota.service';
import { UsageService } from './usage.service';

/** A student's own minutes used and left this week. */
@ApiTags('usage')
@ApiBearerAuth()
@Controller('api/me/usage')
export class MyUsageController {
  constructor(private readonly usage: UsageService) {}

  @Get()
  @Scopes('read', 'labs')
  mine(@CurrentPrincipal() p: Principal) {
    return this.usage.forStudent(p.user);
  }
}

/** A course's quota (campus IT sets the ceiling, instructors tighten) and its students' usage. */
@ApiTags('courses')
@ApiBearerAuth()
@Controller('api/courses/:courseId')
export class CourseQuotaController {
  constructor(
    private readonly quota: QuotaService,
    private readonly usage: UsageService,
  ) {}

  @Get('quota')
  @Scopes('read')
  @CourseRoles('instructor', 'ta')
  get(@CurrentCourse() c: CourseAccess) {
    return this.quota.view(c.course);
  }

  @Put('quota')
  @Scopes('courses:admin')
  @CourseRoles('instructor')
  put(
    @CurrentPrincipal() p: Principal,
    @CurrentCourse() c: CourseAccess,
    @Body() body: UpdateQuotaDto,
    @Req() req: Request & { id?: string },
  ) {
    return this.quota.update(actorOf(p, req), c.course, body);
  }

  @Get('usage')
  @Scopes('read')
  @CourseRoles('instructor', 'ta')
  courseUsage(@CurrentCourse() c: CourseAccess) {
    return this.usage.forCourse(c.course);
  }
}

/** Campus IT: every course's consumption. */
@ApiTags('usage')
@ApiBearerAuth()
@CampusRoles('admin')
@Controller('api/usage')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  @Get('courses')
  @Scopes('read')
  courses() {
    return this.usage.allCourses();
  }
}
