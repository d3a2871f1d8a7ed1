export type { EngineEndpoint, EngineProbe } from './docker/engine';
export { EndpointError, describeEngineError, engineClient, parseEndpoint, probeEngine } from './docker/engine';
