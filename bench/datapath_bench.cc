// Datapath costs on a real kernel (issue 3 targets: install of 1,000 selectors < 200 ms, one
// reconcile check at 1,000 selectors < 20 ms). Needs root: the program moves itself into a
// fresh network namespace first (unshare), so the host's rules are never touched.
//
// Run: build/bench/datapath_bench   (wall-clock times; the work happens in iptables-restore)
// BM_ReconcileCheck also reports cpu_ms_with_children: CPU per check including iptables-save.
#include <benchmark/benchmark.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <optional>

#include "datapath/datapath.h"
#include "datapath/netlink_routing.h"
#include "datapath/nft_rule_dump.h"
#include "datapath/process_command_runner.h"
#include "datapath/reconciler.h"
#include "datapath/ruleset_generation.h"

namespace {

using namespace portcullis;
using namespace portcullis::datapath;

// N selectors, each one destination /32 on port 80, as a large policy would produce.
DatapathPlan planWith(int selectors) {
  DatapathPlan plan;
  plan.listeners = {{"portcullis-http-egress", 39799, true, false},
                    {"portcullis-dns-egress", 15503, true, true}};
  for (int i = 0; i < selectors; ++i) {
    Classification c;
    c.rule = "rule-" + std::to_string(i);
    c.interfaces = {"veth+"};
    c.sources = {*Cidr::parse("198.18.0.0/16")};
    c.destinations = {
        Cidr(IpAddress::v4(0xc6130000u | static_cast<uint32_t>(i)), 32)};  // 198.19.x.y
    c.port = 80;
    c.listener = "portcullis-http-egress";
    plan.classifications.push_back(std::move(c));
  }
  return plan;
}

struct Bench {
  ProcessCommandRunner runner;
  Iptables iptables{runner, IptablesBackend::kNft};
  Iptables legacy{runner, IptablesBackend::kLegacy};
  std::unique_ptr<RuleTable> rules;
  std::unique_ptr<RouteTable> routes;
  Kernel kernel(bool use_legacy = false) {
    return Kernel{use_legacy ? &legacy : &iptables, rules.get(), routes.get()};
  }
};

Bench* g_bench = nullptr;

// CPU time of this process and of the children it reaped (iptables-save runs in a child, so the
// "CPU" column alone would hide most of the old method's cost). Unlike wall time, it does not
// grow when other work on the machine competes for the cores.
double cpuSeconds() {
  double total = 0;
  for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    rusage usage{};
    ::getrusage(who, &usage);
    for (const timeval& t : {usage.ru_utime, usage.ru_stime})
      total += static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  }
  return total;
}

void BM_Install(benchmark::State& state) {
  const DatapathPlan plan = planWith(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto installed = Datapath::install(g_bench->kernel(), plan);
    state.PauseTiming();
    if (!installed) {
      state.SkipWithError("install failed");
      break;
    }
    (void)installed.value().teardown();
    state.ResumeTiming();
  }
}

void BM_Teardown(benchmark::State& state) {
  const DatapathPlan plan = planWith(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    state.PauseTiming();
    auto installed = Datapath::install(g_bench->kernel(), plan);
    if (!installed) {
      state.SkipWithError("install failed");
      break;
    }
    state.ResumeTiming();
    if (!installed.value().teardown()) state.SkipWithError("teardown failed");
  }
}

// How a check compares iptables (arg 1): 0 iptables-save every time (the method before the
// nf_tables dump, kept as the baseline and still the legacy backend's), 1 the nf_tables rule dump
// (a full comparison, as when something else keeps changing the ruleset), 2 the dump behind the
// ruleset generation shortcut (the daemon's default on nft when nothing changes), 3 the legacy
// backend (iptables-legacy-save every time).
void BM_ReconcileCheck(benchmark::State& state) {
  const DatapathPlan plan = planWith(static_cast<int>(state.range(0)));
  const int64_t method = state.range(1);
  constexpr const char* kLabels[] = {"iptables-save", "nft dump", "nft dump + generation",
                                     "legacy iptables-save"};
  state.SetLabel(kLabels[method]);
  const Kernel kernel = g_bench->kernel(method == 3);
  auto installed = Datapath::install(kernel, plan);
  if (!installed) return state.SkipWithError("install failed");
  NftRulesetGeneration generation;
  NetlinkNftRuleDump dump;
  Reconciler reconciler(kernel, plan, method == 2 ? &generation : nullptr,
                        method == 1 || method == 2 ? &dump : nullptr);
  if (!reconciler.learn()) return state.SkipWithError("read-back failed");
  if ((method == 1 || method == 2) &&
      !(reconciler.comparesDump(Family::kV4) && reconciler.comparesDump(Family::kV6)))
    return state.SkipWithError("nf_tables dump not learned");
  const double cpu_before = cpuSeconds();
  for (auto _ : state) {
    auto repaired = reconciler.check();
    if (!repaired || repaired.value() != 0) state.SkipWithError("check found drift");
  }
  state.counters["cpu_ms_with_children"] = benchmark::Counter(
      (cpuSeconds() - cpu_before) * 1e3 / static_cast<double>(state.iterations()));
}

// One family's rules read both ways, without the comparison: where a check's time goes.
void BM_ReadRules(benchmark::State& state) {
  const DatapathPlan plan = planWith(static_cast<int>(state.range(0)));
  state.SetLabel(state.range(1) == 0 ? "iptables-save IPv4" : "nft dump IPv4");
  auto installed = Datapath::install(g_bench->kernel(), plan);
  if (!installed) return state.SkipWithError("install failed");
  NetlinkNftRuleDump dump;
  for (auto _ : state) {
    const bool read = state.range(1) == 0 ? bool(g_bench->iptables.save(Family::kV4))
                                          : bool(dump.read(Family::kV4));
    if (!read) state.SkipWithError("read failed");
  }
}

BENCHMARK(BM_Install)->Arg(1)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Teardown)->Arg(1)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ReconcileCheck)
    ->ArgsProduct({{1, 100, 1000}, {0, 1, 2, 3}})
    ->ArgNames({"selectors", "method"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_ReadRules)
    ->ArgsProduct({{1000}, {0, 1}})
    ->ArgNames({"selectors", "how"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  if (::geteuid() != 0 || ::unshare(CLONE_NEWNET) != 0) {
    std::fprintf(stderr,
                 "datapath_bench: needs root to create its own network namespace; skipped\n");
    return 0;
  }
  Bench bench;
  if (auto up = bench.runner.run({"ip", "link", "set", "lo", "up"}, {});
      !up || up.value().exit_code != 0) {
    std::fprintf(stderr, "datapath_bench: cannot bring lo up\n");
    return 1;
  }
  auto rules = openNetlinkRuleTable();
  auto routes = openNetlinkRouteTable();
  if (!rules || !routes) return 1;
  bench.rules = std::move(rules.value());
  bench.routes = std::move(routes.value());
  g_bench = &bench;
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
