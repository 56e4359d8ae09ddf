// iso_throw — an agent that lets a C++ exception escape `run` (std::terminate → abort).
//   c++ -shared -fPIC -fvisibility=hidden -I include iso_throw.cc -o libiso_throw.so
#include <agentrt/plugin.h>
#include <stdexcept>

static const agentrt_host *host;

static agentrt_status throw_run(void *, agentrt_call *, agentrt_str) {
    throw std::runtime_error("escaped from run");
}

static const agentrt_agent agents[] = {
    {sizeof(agentrt_agent), AGENTRT_AGENT_THREAD_SAFE, AGENTRT_STR("throw"), AGENTRT_STR("throws"), AGENTRT_STR(""), 0, 0, throw_run, nullptr, nullptr},
};
static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("iso_throw"), AGENTRT_STR("1.0.0"), AGENTRT_STR("C++ exception fixture."),
    agents, 1, 0, nullptr, nullptr, nullptr,
};
static const agentrt_plugin *entry(const agentrt_host *h) { host = h; return &plugin; }
AGENTRT_DEFINE_PLUGIN(entry);
