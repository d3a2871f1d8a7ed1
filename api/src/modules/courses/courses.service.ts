import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Course, CourseRole, Enrollment } from './course.entity';

@Injectable()
export class CoursesService {
  constructor(
    @InjectRepository(Course) private readonly courses: Repository<Course>,
    @InjectRepository(Enrollment) private readonly enrollments: Repository<Enrollment>,
  ) {}

  /** The course with this code and term, created when absent. */
  async ensure(input: { code: string; term: string; title: string }): Promise<Course> {
    const found = await this.courses.findOne({ where: { code: input.code, term: input.term } });
    return found ?? this.courses.save(this.courses.create(input));
  }

  /** Adds or keeps a membership; an existing one keeps its role (seeding changes nothing twice). */
  async ensureMember(courseId: string, userId: string, role: CourseRole): Promise<Enrollment> {
    await this.enrollments.createQueryBuilder().insert().values({ courseId, userId, role }).orIgnore().execute();
    return this.enrollments.findOneOrFail({ where: { courseId, userId } });
  }

  list(): Promise<Course[]> {
    return this.courses.find({ order: { term: 'DESC', code: 'ASC' } });
  }
}
