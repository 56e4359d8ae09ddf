// agentrt-worker: the process that runs an isolated plugin (docs/ISOLATION.md). The runtime
// starts it with the plugin's path; it speaks only to the runtime, over fds 3 and 4.
import AgentRTNative

AgentRTWorker.main()
