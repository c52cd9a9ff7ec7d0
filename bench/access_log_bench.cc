// What the access log costs an I/O thread per record: formatting alone, and formatting plus
// queueing (the writer thread draining to a file meanwhile, as in the daemon). Compare with the
// proxy's CPU per request (README "How it runs": about 18 µs per keep-alive HTTP request).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>

#include "proxy/access_log.h"

namespace {

using portcullis::IpAddress;
using namespace portcullis::proxy;

AccessRecord httpRecord() {
  AccessRecord r;
  r.time = std::chrono::system_clock::now();
  r.verdict = AccessVerdict::kForwarded;
  r.rule = "web-egress";
  r.listener = "portcullis-http-egress";
  r.source = {*IpAddress::parse("198.18.1.2"), 40112};
  r.destination = {*IpAddress::parse("198.18.2.2"), 80};
  r.http = {"GET", "origin.example.test", "/public/index.html?session=abc&lang=en", 200, 4096,
            std::chrono::microseconds(250)};
  return r;
}

void BM_FormatHttpRecord(benchmark::State& state) {
  const AccessRecord r = httpRecord();
  std::string out;
  for (auto _ : state) {
    out.clear();
    appendAccessJson(r, out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_FormatHttpRecord);

AccessLog* shared_log = nullptr;

void BM_LogHttpRecord(benchmark::State& state) {
  if (state.thread_index() == 0) {
    const std::string path = std::filesystem::temp_directory_path() /
                             ("portcullis-bench-access-" + std::to_string(::getpid()) + ".log");
    shared_log = AccessLog::open({.path = path}).value().release();
    shared_log->start();
  }
  const AccessRecord r = httpRecord();
  for (auto _ : state) shared_log->log(r);
  if (state.thread_index() == 0) {
    shared_log->stop();
    state.counters["dropped"] = static_cast<double>(shared_log->dropped());
    state.counters["written"] = static_cast<double>(shared_log->written());
    std::filesystem::remove(shared_log->path());
    delete shared_log;
  }
}
BENCHMARK(BM_LogHttpRecord)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
