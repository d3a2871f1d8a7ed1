import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsObject, IsOptional, IsString, Length, MaxLength } from 'class-validator';
import { COURSE_ROLES, CourseRole } from './course.entity';

const SETTINGS_DOC = {
  example: { instructorNotebookAccess: false },
  description: "instructorNotebookAccess: may instructors open a student's running notebook (audited)",
};

export class CreateCourseDto {
  @ApiProperty({ example: 'CS101' }) @IsString() @Length(1, 40) code!: string;
  @ApiProperty({ example: '2026F' }) @IsString() @Length(1, 40) term!: string;
  @ApiProperty({ example: 'Introduction to programming' }) @IsString() @Length(1, 200) title!: string;
  @ApiPropertyOptional(SETTINGS_DOC) @IsOptional() @IsObject() settings?: Record<string, unknown>;
}

export class UpdateCourseDto {
  @ApiPropertyOptional({ example: 'Introduction to programming' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  title?: string;
  @ApiPropertyOptional(SETTINGS_DOC) @IsOptional() @IsObject() settings?: Record<string, unknown>;
}

export class PutMemberDto {
  @ApiProperty({ enum: COURSE_ROLES })
  @IsIn([...COURSE_ROLES], { message: `role must be one of ${COURSE_ROLES.join(', ')}` })
  role!: CourseRole;
}

export class RosterImportDto {
  @ApiProperty({ example: 'username,role\nada,student\nalan,ta\n', description: 'the file, header line optional' })
  @IsString()
  @MaxLength(1_000_000, { message: 'csv is too large: at most 1 MB at once' })
  csv!: string;
  @ApiProperty({ description: 'true: only preview what the file would do' })
  @IsBoolean({ message: 'dryRun must be true or false' })
  dryRun!: boolean;
}
