import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import type { ModulesContainer } from '@nestjs/core';
import { CAMPUS_ROLES_KEY, COURSE_ROLES_KEY, PUBLIC, SCOPES_KEY } from './auth.decorators';

/** One HTTP route of the portal with the access policy its decorators declare. */
export interface RouteInfo {
  method: string;
  /** Express-style path, e.g. `/api/courses/:courseId/members`. */
  path: string;
  /** `CoursesController.members`, for messages. */
  handler: string;
  public: boolean;
  /** Undefined when the route declares no @Scopes. */
  scopes?: string[];
  campusRoles?: string[];
  courseRoles?: string[];
}

const join = (...parts: string[]) =>
  '/' +
  parts
    .flatMap((p) => p.split('/'))
    .filter(Boolean)
    .join('/');

function metaOf<T>(key: string, handler: object, cls: object): T | undefined {
  return (Reflect.getMetadata(key, handler) ?? Reflect.getMetadata(key, cls)) as T | undefined;
}

/** Every route of every controller the application has, with its policy metadata. */
export function listRoutes(modules: ModulesContainer): RouteInfo[] {
  const routes: RouteInfo[] = [];
  for (const mod of modules.values()) {
    for (const wrapper of mod.controllers.values()) {
      const cls = wrapper.metatype as (new (...a: unknown[]) => unknown) | null;
      if (!cls) continue;
      const base = ([] as string[]).concat(Reflect.getMetadata(PATH_METADATA, cls) ?? '');
      const proto = cls.prototype as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(proto)) {
        const fn = proto[name];
        if (name === 'constructor' || typeof fn !== 'function') continue;
        const method = Reflect.getMetadata(METHOD_METADATA, fn) as RequestMethod | undefined;
        const own = Reflect.getMetadata(PATH_METADATA, fn) as string | string[] | undefined;
        if (method === undefined || own === undefined) continue;
        for (const b of base)
          for (const p of ([] as string[]).concat(own))
            routes.push({
              method: RequestMethod[method],
              path: join(b, p),
              handler: `${cls.name}.${name}`,
              public: metaOf<boolean>(PUBLIC, fn, cls) === true,
              scopes: metaOf<string[]>(SCOPES_KEY, fn, cls),
              campusRoles: metaOf<string[]>(CAMPUS_ROLES_KEY, fn, cls),
              courseRoles: metaOf<string[]>(COURSE_ROLES_KEY, fn, cls),
            });
      }
    }
  }
  return routes.sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
}

/**
 * Routes that declare no policy. Each route must say either @Public() or which token @Scopes it
 * needs (campus and course roles come on top of that): forgetting is refused at boot, not found
 * in production. A route with a `:courseId` parameter and no @CourseRoles is refused too, since
 * it would let any signed-in user at any course.
 */
export function routesWithoutPolicy(routes: RouteInfo[]): string[] {
  const problems: string[] = [];
  for (const r of routes) {
    const where = `${r.method} ${r.path} (${r.handler})`;
    if (!r.public && r.scopes === undefined) problems.push(`${where} declares neither @Public() nor @Scopes(...)`);
    if (!r.public && r.path.includes(':courseId') && !r.courseRoles?.length)
      problems.push(`${where} takes :courseId but declares no @CourseRoles(...)`);
  }
  return problems;
}
