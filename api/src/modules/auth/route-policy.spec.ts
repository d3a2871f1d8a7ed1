import { Controller, Get, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import { CourseRoles, Public, Scopes } from './auth.decorators';
import { AuthGuard } from './auth.guard';
import { PrincipalResolver } from './principal.resolver';
import { listRoutes, routesWithoutPolicy } from './route-policy';
import { ModulesContainer } from '@nestjs/core';

@Controller('api/fine')
class FineController {
  @Public() @Get('open') open() {}
  @Scopes('read') @Get() read() {}
  @Scopes('courses:admin') @CourseRoles('instructor') @Post(':courseId/x') change() {}
}

@Scopes('read')
@Controller('api/class-level')
class ClassLevelController {
  @Get() list() {}
}

@Controller('api/forgot')
class ForgetfulController {
  @Get(':id') oops() {}
  @Scopes('read') @Get(':courseId/roster') noCourseRole() {}
}

async function boot(...controllers: Array<new (...a: never[]) => unknown>) {
  @Module({
    controllers,
    providers: [
      AuthGuard,
      { provide: PrincipalResolver, useValue: {} },
      { provide: getDataSourceToken(), useValue: {} },
    ],
  })
  class TestModule {}
  const app = await NestFactory.create(TestModule, { logger: false, abortOnError: false });
  return app;
}

describe('route policy', () => {
  it('lists routes with their declared policy, class-level decorators included', async () => {
    const app = await boot(FineController, ClassLevelController);
    await app.init();
    const routes = listRoutes(app.get(ModulesContainer));
    expect(routes.map((r) => [r.method, r.path, r.public, r.scopes, r.courseRoles])).toEqual([
      ['GET', '/api/class-level', false, ['read'], undefined],
      ['GET', '/api/fine', false, ['read'], undefined],
      ['POST', '/api/fine/:courseId/x', false, ['courses:admin'], ['instructor']],
      ['GET', '/api/fine/open', true, undefined, undefined],
    ]);
    expect(routesWithoutPolicy(routes)).toEqual([]);
    await app.close();
  });

  it('refuses to start an app with a route that declares no policy, naming the route', async () => {
    const app = await boot(FineController, ForgetfulController);
    await expect(app.init()).rejects.toThrow(
      [
        'refusing to start: every route must declare who may call it:',
        '  GET /api/forgot/:courseId/roster (ForgetfulController.noCourseRole) takes :courseId but declares no @CourseRoles(...)',
        '  GET /api/forgot/:id (ForgetfulController.oops) declares neither @Public() nor @Scopes(...)',
      ].join('\n'),
    );
    await app.close().catch(() => undefined);
  });
});
