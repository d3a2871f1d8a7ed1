export { EndpointError, EngineEndpoint, EngineProbe, describeEngineError, engineClient, parseEndpoint, probeEngine } from './docker/engine';
