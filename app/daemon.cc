#include "app/daemon.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cstdio>
#include <cstring>
#include <random>
#include <sched.h>
#include <thread>

#include "app/commands.h"
#include "app/config_loader.h"
#include "app/datapath_plan_builder.h"
#include "common/log.h"
#include "datapath/leftovers.h"
#include "datapath/marks.h"
#include "datapath/netlink_routing.h"
#include "datapath/payload_renderer.h"
#include "datapath/port_allocator.h"
#include "datapath/system_port_usage.h"
#include "datapath/time_wait_sweeper.h"
#include "policy/compiled_policy.h"
#include "proxy/tls_interception.h"

namespace portcullis::app {
namespace {

void logErrors(const std::vector<policy::Diagnostic>& errors) {
  for (const auto& d : errors) log::error(d.toString());
}

// Once a flow is no longer redirected, the TIME_WAIT sockets the proxy left on its 4-tuples
// would make the kernel drop the client's next direct SYN (early demux): destroy them.
void sweepTimeWait(const std::optional<std::set<uint16_t>>& ports, bool ipv6, const char* when,
                   bool& refusal_logged) {
  if (ports && ports->empty()) return;
  auto swept = datapath::sweepTimeWait(ports, ipv6);
  if (!swept) {
    log::warn("cannot list TIME_WAIT sockets ", when, ": ", swept.error().message());
    return;
  }
  const auto& r = swept.value();
  log::info("destroyed ", r.destroyed, " TIME_WAIT sockets of the proxy ", when, " (", r.matched, " found)");
  if (r.refused_errno != 0 && !refusal_logged) {
    refusal_logged = true;
    log::warn("the kernel refused SOCK_DESTROY (", std::strerror(r.refused_errno),
              "; CONFIG_INET_DIAG_DESTROY?): a client reusing such a 4-tuple directly may wait up to 60 s");
  }
}

std::string hex(uint32_t value) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", value);
  return buf;
}

std::string protocols(const datapath::Listener& l) {
  return std::string(l.tcp ? "tcp" : "") + (l.tcp && l.udp ? "+" : "") + (l.udp ? "udp" : "");
}

// How long in-flight HTTP exchanges may finish at SIGINT/SIGTERM before the rest are reset.
constexpr Duration kShutdownGrace = std::chrono::seconds(2);
// Binding a listener fails when something took its drawn port since it was drawn; draw again.
constexpr int kBindAttempts = 5;

// The CPUs this process may run on (taskset, cgroup cpusets), not every CPU of the machine.
size_t ioThreads() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

Daemon::Daemon(Options options)
    : options_(std::move(options)),
      pool_(ioThreads(), proxy::IoPool::Model::kContextPerThread),
      signals_(io_),
      reconcile_timer_(io_),
      shutdown_timer_(io_) {}

Daemon::~Daemon() = default;

bool Daemon::load() {
  auto loaded = loadConfig(options_.config_path);
  if (!loaded.ok()) {
    logErrors(loaded.errors);
    return false;
  }
  auto compiled = policy::CompiledPolicy::compile(loaded.value->policy);
  if (!compiled.ok()) {
    logErrors(compiled.errors);
    return false;
  }
  auto tls = proxy::TlsInterceptionSet::load(*compiled.value, nullptr);
  if (!tls) {
    for (const auto& e : tls.error().errors) log::error(e.message());
    return false;
  }
  config_ = std::move(loaded.value->config);
  policy_ = std::move(loaded.value->policy);
  tls_store_->store(std::move(tls.value()));
  policy_store_.store(std::move(*compiled.value));
  return true;
}

int Daemon::printPlan(const datapath::DatapathPlan& plan) {
  for (const auto& l : plan.listeners)
    std::printf("listener %s port %u mark %s %s\n", l.name.c_str(), l.port, hex(l.mark()).c_str(),
                protocols(l).c_str());
  const datapath::IptablesState nothing;
  std::printf("# iptables-restore -w --noflush (IPv4)\n%s",
              datapath::renderInstall(plan, Family::kV4, nothing).c_str());
  if (plan.ipv6)
    std::printf("# ip6tables-restore -w --noflush (IPv6)\n%s",
                datapath::renderInstall(plan, Family::kV6, nothing).c_str());
  std::printf("# rules\n");
  for (const auto& r : datapath::desiredRules(plan)) std::printf("%s\n", r.toString().c_str());
  std::printf("# routes\n");
  for (const auto& r : datapath::desiredRoutes(plan)) std::printf("%s\n", r.toString().c_str());
  return std::fflush(stdout) == 0 ? kExitOk : kExitRuntime;
}

bool Daemon::openKernel() {
  using policy::IptablesBackend;
  datapath::IptablesBackend backend = datapath::IptablesBackend::kNft;
  switch (config_.datapath.iptables) {
    case IptablesBackend::kNft: backend = datapath::IptablesBackend::kNft; break;
    case IptablesBackend::kLegacy: backend = datapath::IptablesBackend::kLegacy; break;
    case IptablesBackend::kAuto: backend = datapath::Iptables::detect(runner_); break;
  }
  log::info("iptables backend: ", datapath::toString(backend));
  iptables_.emplace(runner_, backend);
  auto rules = datapath::openNetlinkRuleTable();
  auto routes = datapath::openNetlinkRouteTable();
  if (!rules || !routes) {
    log::error("cannot open netlink: ", (!rules ? rules.error() : routes.error()).message());
    return false;
  }
  rules_ = std::move(rules.value());
  routes_ = std::move(routes.value());
  return true;
}

std::map<std::string, uint16_t> Daemon::leftoverPorts() {
  std::map<std::string, uint16_t> ports;
  for (Family f : {Family::kV4, Family::kV6}) {
    auto saved = iptables_->save(f);
    if (!saved) continue;
    for (const auto& [name, port] :
         datapath::leftoverListenerPorts(datapath::IptablesState::parse(saved.value()))) {
      if (ports.emplace(name, port).second) log::info("leftover listener ", name, " port ", port);
    }
  }
  return ports;
}

bool Daemon::allocatePorts(const policy::Policy& policy,
                           const std::map<std::string, uint16_t>& preferred) {
  std::vector<datapath::PortRequest> wanted;
  for (const auto& request : listenerRequests(policy, preferred)) {
    // A listener keeps its port across reloads: its socket is already bound there.
    if (!ports_.count(request.listener)) wanted.push_back(request);
  }
  if (wanted.empty()) return true;
  datapath::SystemPortUsage usage(config_.proxy.bind_v4, config_.proxy.bind_v6, config_.datapath.ipv6);
  datapath::PortAllocator allocator(usage, config_.proxy.port_range_first,
                                    config_.proxy.port_range_last, std::random_device{}());
  auto allocated = allocator.allocate(wanted);
  if (!allocated) return false;
  ports_.merge(allocated.value());
  return true;
}

bool Daemon::openListeners(const policy::Policy& policy) {
  if (!listeners_) listeners_.emplace(pool_, policy_store_);
  for (const auto& request : listenerRequests(policy)) {
    const std::string& name = request.listener;
    if (listeners_->isOpen(name)) continue;
    for (int attempt = 1;; ++attempt) {
      const uint16_t port = ports_.at(name);
      auto opened = listeners_->open(config_, name, port);
      if (opened) {
        log::info("listener ", name, " port ", port, " mark ", hex(datapath::listenerMark(port)), " ",
                  request.udp ? "tcp+udp" : "tcp");
        break;
      }
      if (opened.error() == std::errc::not_supported) {
        // Its flows are still redirected (and so dropped: nothing serves them), as the policy
        // asks for this traffic to be judged, never passed unjudged.
        log::warn("listener ", name, " port ", port, ": no proxy serves this protocol yet");
        break;
      }
      if (opened.error() != std::errc::address_in_use || attempt == kBindAttempts) {
        log::error("cannot open listener ", name, " on port ", port, ": ", opened.error().message());
        return false;
      }
      log::warn("listener ", name, " port ", port, " was taken; drawing another");
      ports_.erase(name);
      if (!allocatePorts(policy, {})) return false;
    }
  }
  return true;
}

int Daemon::run() {
  if (!load()) return kExitBadConfig;
  if (options_.dry_run) {
    // Changes nothing: no leftovers are read, no netlink socket is opened.
    if (!allocatePorts(policy_, {})) return kExitDatapath;
    return printPlan(buildDatapathPlan(config_, policy_, ports_));
  }
  // Caught from here on: a SIGTERM during installation is handled once io_ runs, after the
  // datapath exists, instead of killing the process with half of it installed.
  signals_.add(SIGINT);
  signals_.add(SIGTERM);
  signals_.add(SIGHUP);
  signals_.add(SIGUSR1);  // logrotate: reopen the access log
  if (!openKernel()) return kExitDatapath;
  if (!allocatePorts(policy_, leftoverPorts())) return kExitDatapath;
  // Listeners before the datapath: a flow redirected the moment the rules exist finds its port
  // open. A listener that cannot be opened at all is a runtime failure (exit 3): nothing of the
  // datapath was installed yet.
  if (!startAccessLog()) return kExitRuntime;
  // Nothing could read the latency histograms: their clock reads are skipped too.
  proxy::LatencyHistogram::setEnabled(config_.proxy.admin_enabled);
  // Before the listeners: their first connection decides on the node's current addresses.
  address_follower_ = std::make_unique<NodeAddressFollower>(io_, node_addresses_);
  if (auto followed = address_follower_->start(); !followed) {
    log::warn("cannot follow the node's addresses (", followed.error().message(),
              "); read once, now: one added later is treated as remote");
    address_follower_.reset();
  }
  listeners_.emplace(pool_, policy_store_);
  listeners_->setAccessLog(access_log_);
  listeners_->setNodeAddresses(node_addresses_);
  listeners_->setTlsInterceptions(tls_store_);
  if (!openListeners(policy_)) return kExitRuntime;
  const datapath::Kernel kernel{&*iptables_, rules_.get(), routes_.get()};
  auto installed = datapath::Datapath::install(kernel, buildDatapathPlan(config_, policy_, ports_));
  if (!installed) {
    log::error("datapath setup failed (", installed.error().message(), "); rolled back");
    return kExitDatapath;  // ~Daemon closes the listeners
  }
  datapath_.emplace(std::move(installed.value()));
  const bool nft = iptables_->backend() == datapath::IptablesBackend::kNft;
  reconciler_.emplace(kernel, datapath_->plan(), nft ? &generation_ : nullptr,
                      nft ? &rule_dump_ : nullptr);
  if (auto learned = reconciler_->learn(); !learned)
    log::warn("cannot read back the installed rules: ", learned.error().message());
  pool_.start();
  waitForSignal();
  scheduleReconcile();
  startAdmin();
  startPolicyWatch();
  log::info("running; reconcile every ", formatDuration(config_.datapath.reconcile_interval));
  io_.run();
  return exit_code_;
}

void Daemon::waitForSignal() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signal_number) {
    if (ec) return;  // cancelled at shutdown
    if (signal_number == SIGUSR1) {
      if (access_log_) access_log_->reopen();
      waitForSignal();
    } else if (signal_number == SIGHUP) {
      reload();
      waitForSignal();
    } else {
      shutdown(signal_number);
    }
  });
}

void Daemon::scheduleReconcile() {
  reconcile_timer_.expires_after(config_.datapath.reconcile_interval);
  reconcile_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    auto repaired = reconciler_->check();
    last_check_ = std::chrono::system_clock::now();
    if (!repaired) {
      ++reconcile_failures_;
      log::error("reconcile check failed: ", repaired.error().message());
    } else if (repaired.value() > 0) {
      last_repair_ = last_check_;
      log::info("reconcile: ", repaired.value(), " repairs (", reconciler_->repairs(), " in total)");
    }
    scheduleReconcile();
  });
}

void Daemon::reload(const char* why) {
  // Counted for /metrics by outcome: an applied reload stores a new policy generation.
  struct Outcome {
    Daemon& d;
    const uint64_t before = d.policy_store_.generation();
    ~Outcome() { ++(d.policy_store_.generation() != before ? d.reloads_ok_ : d.reloads_failed_); }
  } outcome{*this};
  log::info(why, ": reloading policy");
  auto loaded = loadPolicies(config_);
  if (!loaded.ok()) {
    logErrors(loaded.errors);
    log::error("reload rejected; the previous policy stays in force");
    return;
  }
  auto compiled = policy::CompiledPolicy::compile(*loaded.value);
  if (!compiled.ok()) {
    logErrors(compiled.errors);
    log::error("reload rejected; the previous policy stays in force");
    return;
  }
  // Certificate and key files are read again even when the policy did not change (SIGHUP after a
  // certificate rotation); unchanged ones keep their minted leaves.
  auto tls = proxy::TlsInterceptionSet::load(*compiled.value, tls_store_->load().get());
  if (!tls) {
    for (const auto& e : tls.error().errors) log::error(e.message());
    log::error("reload rejected; the previous policy and TLS certificates stay in force");
    return;
  }
  if (!allocatePorts(*loaded.value, {})) {
    log::error("reload rejected: no port for a new listener");
    return;
  }
  // A listener the new policy needs (say its first DNS rule) is opened before the datapath
  // sends it flows. It reads policy_store_, which still holds the old policy until the swap
  // below; the old one has no rule for it, so nothing is redirected there before the swap.
  if (!openListeners(*loaded.value)) {
    log::error("reload rejected: cannot open a listener the new policy needs");
    return;
  }
  auto plan = buildDatapathPlan(config_, *loaded.value, ports_);
  if (plan != datapath_->plan()) {
    const auto dropped = datapath::droppedTcpPorts(datapath_->plan(), plan);
    if (auto updated = datapath_->update(plan); !updated) {
      log::error("reload rejected: datapath update failed (", updated.error().message(), ")");
      return;
    }
    sweepTimeWait(dropped, plan.ipv6, "after the reload", sweep_refusal_logged_);
    if (auto learned = reconciler_->learn(plan); !learned)
      log::warn("cannot read back the updated rules: ", learned.error().message());
  }
  policy_ = std::move(*loaded.value);
  tls_store_->store(std::move(tls.value()));
  policy_store_.store(std::move(*compiled.value));
  log::info("policy reloaded: ", policy_.rules.size(), " rules, generation ", policy_store_.generation());
}

void Daemon::shutdown(int signal_number) {
  log::info("signal ", signal_number, ": stopping the proxies (grace ", formatDuration(kShutdownGrace),
            ")");
  reconcile_timer_.cancel();
  signals_.cancel();
  if (watcher_) watcher_->stop();
  // The datapath stays while the proxies drain: their sessions' flows keep reaching them.
  // HttpProxy resets what is left after the grace, so no TIME_WAIT socket with a client's
  // original 4-tuple makes the kernel drop that client's next direct SYN.
  shutdown_timer_.expires_after(kShutdownGrace + std::chrono::seconds(1));
  shutdown_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    log::warn("proxies still busy after the grace; tearing down anyway");
    teardown();
  });
  listeners_->shutdown(kShutdownGrace, [this] { boost::asio::post(io_, [this] { teardown(); }); });
}

void Daemon::teardown() {
  if (torn_down_) return;
  torn_down_ = true;
  shutdown_timer_.cancel();
  log::info("tearing down");
  if (admin_) admin_->stop();
  if (datapath_) {
    if (auto removed = datapath_->teardown(); !removed) exit_code_ = kExitRuntime;
    // After the proxies reset what they held; before exit, so direct traffic flows at once.
    sweepTimeWait(datapath::redirectedTcpPorts(datapath_->plan()), datapath_->plan().ipv6, "at exit",
                  sweep_refusal_logged_);
  }
  pool_.stop();
  pool_.join();
  if (access_log_) access_log_->stop();  // writes what the sessions queued
  io_.stop();
}

}  // namespace portcullis::app
