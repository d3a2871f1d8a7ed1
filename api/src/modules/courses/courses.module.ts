import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Course, Enrollment } from './course.entity';
import { CoursesService } from './courses.service';

@Module({
  imports: [TypeOrmModule.forFeature([Course, Enrollment])],
  providers: [CoursesService],
  exports: [CoursesService],
})
export class CoursesModule {}
