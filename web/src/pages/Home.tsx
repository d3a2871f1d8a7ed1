import type { Me } from '../api';
import { CourseList } from './Courses';
import { LabsPage } from './Labs';

/** The signed-in home page: the student's labs first, their courses below. */
export function HomePage({ me, onUnauthorized }: { me: Me; onUnauthorized: () => void }) {
  return (
    <>
      <LabsPage onUnauthorized={onUnauthorized} />
      <CourseList me={me} onUnauthorized={onUnauthorized} level={2} />
    </>
  );
}
