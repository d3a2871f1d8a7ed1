import { parseRoster, planRoster, ROSTER_MAX_ROWS } from './roster-csv';

describe('roster CSV', () => {
  describe(parseRoster.name, () => {
    it('reads rows with or without the header, lower-casing names and roles', () => {
      expect(parseRoster('username,role\nAda,Student\nalan,ta\n')).toEqual([
        { line: 2, username: 'ada', role: 'student' },
        { line: 3, username: 'alan', role: 'ta' },
      ]);
      expect(parseRoster('ada,student')).toEqual([{ line: 1, username: 'ada', role: 'student' }]);
      expect(parseRoster('\uFEFFusername,role\r\nada,instructor\r\n\r\n\r\n')).toEqual([
        { line: 2, username: 'ada', role: 'instructor' },
      ]);
    });

    it('names what is wrong with each bad row, on its line', () => {
      const rows = parseRoster(
        [
          'username,role',
          'ada,student',
          'Bad Name,student',
          'bob,professor',
          '',
          'ada,ta',
          'carl',
          'dora,ta,extra',
          ',student',
        ].join('\n'),
      );
      expect(rows.map((r) => [r.line, r.error])).toEqual([
        [2, undefined],
        [
          3,
          "username 'Bad Name' is not allowed: use 1-64 characters a-z, 0-9, '.', '_' or '-', starting with a letter",
        ],
        [4, "role 'professor' is not one of student, ta, instructor"],
        [5, 'empty row'],
        [6, 'ada is listed twice (first on line 2)'],
        [7, 'no role for carl: give one of student, ta, instructor'],
        [8, 'too many columns (3): expected username,role'],
        [9, 'no username'],
      ]);
    });

    it('reports a file that is not CSV at all as one bad row', () => {
      const rows = parseRoster('ada,student\n"bob,ta\n');
      expect(rows).toHaveLength(1);
      expect(rows[0].error).toMatch(/^the file is not valid CSV: /);
    });

    it('refuses files over the row limit', () => {
      const big = Array.from({ length: ROSTER_MAX_ROWS + 1 }, (_, i) => `u${i},student`).join('\n');
      expect(parseRoster(big)).toEqual([
        expect.objectContaining({
          error: `the file has ${ROSTER_MAX_ROWS + 1} rows; at most ${ROSTER_MAX_ROWS} at once`,
        }),
      ]);
    });
  });

  describe(planRoster.name, () => {
    it('says add, change or keep for each row against the current roster, and counts them', () => {
      const plan = planRoster(
        parseRoster('ada,student\nalan,ta\nbob,student'),
        new Map([
          ['alan', 'student'],
          ['bob', 'student'],
        ]),
      );
      expect(plan.rows.map((r) => [r.username, r.action])).toEqual([
        ['ada', 'add'],
        ['alan', 'change'],
        ['bob', 'keep'],
      ]);
      expect(plan.summary).toEqual({ add: 1, change: 1, keep: 1, error: 0 });
      expect(plan.applied).toBe(false);
    });

    it('turns a vetoed row into an error row, and an empty file into an error', () => {
      const plan = planRoster(parseRoster('me,ta'), new Map([['me', 'instructor']]), () => 'not yourself');
      expect(plan.rows).toEqual([{ line: 1, username: 'me', role: 'ta', action: 'error', error: 'not yourself' }]);
      expect(planRoster(parseRoster('username,role\n'), new Map()).rows[0].error).toBe('the file lists nobody');
    });
  });
});
