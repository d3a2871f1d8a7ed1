import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Course, Enrollment } from './course.entity';
import { CourseMembersService } from './course-members.service';
import { CoursesController } from './courses.controller';
import { CoursesService } from './courses.service';

@Module({
  imports: [TypeOrmModule.forFeature([Course, Enrollment])],
  controllers: [CoursesController],
  providers: [CoursesService, CourseMembersService],
  exports: [CoursesService, CourseMembersService],
})
export class CoursesModule {}
