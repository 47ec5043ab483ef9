// What a hand-over between two event loops costs (runtime/cross_loop.h): a caller loop sends
// requests to an owner loop, which answers each at once; the figure is the wall time and the
// process CPU per round trip (request there, reply back), for a LoopChannel each way and for one
// asio::post each way, with requests sent alone (one in flight) or in bursts (`--burst`, as a
// pipelining client's commands arrive). It isolates the channel from the node's work that
// `--front-end-threads 1` adds it to (docs/benchmarks.md "Front ends on a thread of their own").
//
// Usage: loop_channel_cost [--round-trips N] [--burst B]
#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <future>
#include <string>
#include <thread>

#include "runtime/cross_loop.h"
#include "runtime/loop_thread.h"

namespace {

namespace asio = boost::asio;
using meridian::runtime::LoopChannel;
using meridian::runtime::LoopThread;

double ProcessCpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// Two loops on two threads, as the server runs them with --front-end-threads 1.
struct TwoLoops {
  LoopThread caller_loop;
  LoopThread owner_loop;
  asio::io_context& caller = caller_loop.io();
  asio::io_context& owner = owner_loop.io();
};

// Sends `round_trips` requests in bursts of `burst` (the next burst once the last reply of
// this one is back); `send(there, back)` runs `there` on the owner, which runs `back` on the
// caller. Returns {wall seconds, CPU seconds}.
template <typename Send>
std::pair<double, double> Run(std::uint64_t round_trips, std::uint64_t burst, TwoLoops& loops,
                              Send send) {
  std::promise<void> done;
  std::uint64_t sent = 0;
  std::uint64_t answered = 0;
  std::function<void()> next_burst;
  next_burst = [&] {
    const std::uint64_t this_burst = std::min(burst, round_trips - sent);
    std::uint64_t* left = new std::uint64_t(this_burst);
    for (std::uint64_t i = 0; i < this_burst; ++i) {
      ++sent;
      send([](std::function<void()> reply) { reply(); },
           [&, left] {
             ++answered;
             if (--*left > 0) return;
             delete left;
             if (answered == round_trips) return done.set_value();
             next_burst();
           });
    }
  };
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = ProcessCpuSeconds();
  asio::post(loops.caller, next_burst);
  done.get_future().wait();
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {wall, ProcessCpuSeconds() - cpu_start};
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t round_trips = 500'000;
  std::uint64_t burst = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--round-trips") == 0) {
      round_trips = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (std::strcmp(argv[i], "--burst") == 0) {
      burst = std::strtoull(argv[i + 1], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: loop_channel_cost [--round-trips N] [--burst B]\n");
      return 2;
    }
  }
  if (round_trips == 0 || burst == 0) {
    std::fprintf(stderr, "--round-trips and --burst must be at least 1\n");
    return 2;
  }
  std::printf("%llu round trips, bursts of %llu\n", static_cast<unsigned long long>(round_trips),
              static_cast<unsigned long long>(burst));
  std::printf("%-22s %12s %14s %14s\n", "hand-over", "round trips/s", "wall us/trip",
              "CPU us/trip");
  auto report = [&](const char* name, std::pair<double, double> figures) {
    const double trips = static_cast<double>(round_trips);
    std::printf("%-22s %12.0f %14.2f %14.2f\n", name, trips / figures.first,
                figures.first * 1e6 / trips, figures.second * 1e6 / trips);
  };
  for (int round = 0; round < 2; ++round) {
    {
      TwoLoops loops;
      LoopChannel to_owner(loops.owner);
      LoopChannel to_caller(loops.caller);
      report("LoopChannel each way",
             Run(round_trips, burst, loops,
                 [&](std::function<void(std::function<void()>)> there, std::function<void()> back) {
                   to_owner.Push([&to_caller, there = std::move(there), back = std::move(back)] {
                     there([&to_caller, back] { to_caller.Push(back); });
                   });
                 }));
      // The loops end before the channels their pending drains point to.
      loops.caller_loop.Join();
      loops.owner_loop.Join();
    }
    {
      TwoLoops loops;
      report("asio::post each way",
             Run(round_trips, burst, loops,
                 [&](std::function<void(std::function<void()>)> there, std::function<void()> back) {
                   asio::post(loops.owner,
                              [&loops, there = std::move(there), back = std::move(back)] {
                                there([&loops, back] { asio::post(loops.caller, back); });
                              });
                 }));
    }
  }
  return 0;
}
