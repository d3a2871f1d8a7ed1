/** Integration tests need the services `npm test` (infra/test.sh) starts; say so instead of failing obscurely. */
export default function globalSetup(): void {
  const missing = ['RIGLAB_TEST_PG_ADMIN_URL', 'RIGLAB_TEST_REDIS_URL', 'RIGLAB_TEST_DOCKER_HOST'].filter(
    (v) => !process.env[v],
  );
  if (missing.length) {
    throw new Error(
      `run the tests with \`npm test\` (it starts PostgreSQL, Redis and Docker); missing ${missing.join(', ')}`,
    );
  }
}
