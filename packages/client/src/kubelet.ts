// KubeletClient: logs and stats from an agent's Kubelet service (proto/agent.proto) (to be written).
export {};
