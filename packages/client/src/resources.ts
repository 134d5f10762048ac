// ResourcesClient, NodesClient, TokensClient over proto/api.proto and proto/agent.proto (to be written).
export {};
