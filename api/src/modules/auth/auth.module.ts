import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Enrollment } from '../courses/course.entity';
import { UsersModule } from '../users/users.module';
import { ApiToken } from './api-token.entity';
import { AuthController } from './auth.controller';
import { AuthGuard } from './auth.guard';
import { AuthService } from './auth.service';
import { PrincipalResolver } from './principal.resolver';
import { TokensService } from './tokens.service';

@Module({
  imports: [TypeOrmModule.forFeature([ApiToken, Enrollment]), UsersModule],
  controllers: [AuthController],
  providers: [TokensService, AuthService, AuthGuard, PrincipalResolver],
  exports: [TokensService, AuthGuard, PrincipalResolver],
})
export class AuthModule {}

/** Token management without HTTP, for the CLI. */
@Module({
  imports: [TypeOrmModule.forFeature([ApiToken]), UsersModule],
  providers: [TokensService],
  exports: [TokensService],
})
export class TokensModule {}
