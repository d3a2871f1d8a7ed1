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
import { SamlController } from './saml/saml.controller';
import { SamlService } from './saml/saml.service';
import { SessionRegistry } from './session-registry';
import { SignInLimiter } from './sign-in-limiter';
import { CoursesModule } from '../courses/courses.module';

@Module({
  imports: [TypeOrmModule.forFeature([ApiToken, Enrollment]), UsersModule, CoursesModule],
  controllers: [AuthController, SamlController],
  providers: [TokensService, AuthService, AuthGuard, PrincipalResolver, SamlService, SessionRegistry, SignInLimiter],
  exports: [TokensService, AuthGuard, PrincipalResolver, SamlService, SessionRegistry, SignInLimiter],
})
export class AuthModule {}

/** Token management without HTTP, for the CLI. */
@Module({
  imports: [TypeOrmModule.forFeature([ApiToken]), UsersModule],
  providers: [TokensService],
  exports: [TokensService],
})
export class TokensModule {}
