import {
  checkSettingsPatch,
  mayInCourse,
  mayOpenNotebook,
  normalizeUsername,
  planSsoSync,
  selfChangeRefusal,
  settingsOf,
} from './courses.policy';

describe('courses.policy', () => {
  describe(settingsOf.name, () => {
    it('defaults instructorNotebookAccess to false for courses that never set it', () => {
      expect(settingsOf({})).toEqual({ instructorNotebookAccess: false });
      expect(settingsOf(null)).toEqual({ instructorNotebookAccess: false });
      expect(settingsOf({ instructorNotebookAccess: 'yes' })).toEqual({ instructorNotebookAccess: false });
      expect(settingsOf({ instructorNotebookAccess: true })).toEqual({ instructorNotebookAccess: true });
    });
  });

  describe(checkSettingsPatch.name, () => {
    it('accepts known settings of the right type', () => {
      expect(checkSettingsPatch({ instructorNotebookAccess: true })).toEqual({
        ok: true,
        settings: { instructorNotebookAccess: true },
      });
      expect(checkSettingsPatch({})).toEqual({ ok: true, settings: {} });
    });
    it('names unknown settings and wrong types', () => {
      expect(checkSettingsPatch({ gpu: 1, x: 2 })).toEqual({
        ok: false,
        reason: "unknown settings 'gpu', 'x'; known: instructorNotebookAccess",
      });
      expect(checkSettingsPatch({ instructorNotebookAccess: 'true' })).toEqual({
        ok: false,
        reason: 'settings.instructorNotebookAccess must be true or false',
      });
      expect(checkSettingsPatch([])).toEqual({ ok: false, reason: 'settings must be an object' });
    });
  });

  describe(mayInCourse.name, () => {
    const table: Array<[Parameters<typeof mayInCourse>[0], Parameters<typeof mayInCourse>[1], boolean[]]> = [
      // campus role, course role, [view, view-roster, view-labs, manage]
      ['admin', null, [true, true, true, true]],
      ['staff', null, [false, false, false, false]],
      ['staff', 'instructor', [true, true, true, true]],
      ['student', 'ta', [true, true, true, false]],
      ['student', 'student', [true, false, false, false]],
      ['student', null, [false, false, false, false]],
    ];
    it.each(table)('%s with course role %s may %j', (campus, course, expected) => {
      expect(
        (['view', 'view-roster', 'view-labs', 'manage'] as const).map((a) => mayInCourse(campus, course, a)),
      ).toEqual(expected);
    });
  });

  describe(mayOpenNotebook.name, () => {
    const base = {
      viewerId: 'v',
      viewerCampusRole: 'staff' as const,
      ownerId: 'o',
      viewerCourseRole: 'instructor' as const,
      settings: { instructorNotebookAccess: true },
    };
    it('lets the owner and admins in whatever the course says', () => {
      expect(mayOpenNotebook({ ...base, viewerId: 'o', settings: { instructorNotebookAccess: false } })).toEqual({
        ok: true,
        as: 'owner',
      });
      expect(
        mayOpenNotebook({
          ...base,
          viewerCampusRole: 'admin',
          viewerCourseRole: null,
          settings: { instructorNotebookAccess: false },
        }),
      ).toEqual({ ok: true, as: 'admin' });
    });
    it('lets an instructor in only when the course allows it', () => {
      expect(mayOpenNotebook(base)).toEqual({ ok: true, as: 'instructor' });
      expect(mayOpenNotebook({ ...base, settings: { instructorNotebookAccess: false } })).toEqual({
        ok: false,
        reason: "This course does not let instructors open students' notebooks.",
      });
    });
    it('never lets a TA, a fellow student or an outsider in', () => {
      for (const role of ['ta', 'student', null] as const)
        expect(mayOpenNotebook({ ...base, viewerCourseRole: role })).toEqual({
          ok: false,
          reason: 'This lab belongs to someone else.',
        });
    });
  });

  describe(selfChangeRefusal.name, () => {
    const me = { actorId: 'me', actorCampusRole: 'staff' as const, targetUserId: 'me' };
    it('refuses an instructor removing or demoting themselves', () => {
      expect(selfChangeRefusal({ ...me, newRole: null })).toMatch(/cannot remove yourself/);
      expect(selfChangeRefusal({ ...me, newRole: 'ta' })).toMatch(/cannot change your own role/);
    });
    it('allows changes to others, keeping one’s own role, and anything by an admin', () => {
      expect(selfChangeRefusal({ ...me, newRole: 'instructor' })).toBeNull();
      expect(selfChangeRefusal({ ...me, targetUserId: 'other', newRole: null })).toBeNull();
      expect(selfChangeRefusal({ ...me, actorCampusRole: 'admin', newRole: null })).toBeNull();
    });
  });

  describe(normalizeUsername.name, () => {
    it('lower-cases and trims, and refuses what USERNAME_RULE refuses', () => {
      expect(normalizeUsername('  Ada.L ')).toBe('ada.l');
      expect(normalizeUsername('9lives')).toBeNull();
      expect(normalizeUsername('a b')).toBeNull();
      expect(normalizeUsername('')).toBeNull();
    });
  });

  describe(planSsoSync.name, () => {
    it('adds, re-roles and removes SSO memberships only; manual and CSV ones stay as they are', () => {
      const plan = planSsoSync(
        [
          { courseId: 'keep-sso', role: 'student', source: 'sso' },
          { courseId: 'rerole-sso', role: 'student', source: 'sso' },
          { courseId: 'gone-sso', role: 'ta', source: 'sso' },
          { courseId: 'manual', role: 'ta', source: 'manual' },
          { courseId: 'csv-gone', role: 'student', source: 'csv' },
        ],
        [
          { courseId: 'keep-sso', role: 'student' },
          { courseId: 'rerole-sso', role: 'ta' },
          { courseId: 'manual', role: 'student' },
          { courseId: 'new', role: 'instructor' },
        ],
      );
      expect(plan).toEqual({
        add: [{ courseId: 'new', role: 'instructor' }],
        change: [{ courseId: 'rerole-sso', role: 'ta' }],
        remove: ['gone-sso'],
      });
    });
    it('takes the strongest role when the IdP names a course twice', () => {
      expect(
        planSsoSync(
          [],
          [
            { courseId: 'c', role: 'ta' },
            { courseId: 'c', role: 'student' },
          ],
        ).add,
      ).toEqual([{ courseId: 'c', role: 'ta' }]);
    });
  });
});
