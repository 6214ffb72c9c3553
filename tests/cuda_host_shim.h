// CPU emulation of the few CUDA features zkdl's kernels use, so that tests can
// compile cuda/*.cu with g++ and run the kernels themselves on the host
// (tests/test_cuda_host.py). Force-included before the kernel sources.
//
// A launch runs the grid's blocks one after another; each block's threads are real OS
// threads so that __syncthreads() (a barrier) and __shared__ arrays (static storage,
// shared by the threads of the running block) behave as on a GPU. Slow, and meant
// for tiny grids only.
#pragma once
#include <pthread.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#define __host__
#define __device__
#define __global__
#define __forceinline__ inline
#define __shared__ static
#define ZK_NOINLINE __attribute__((noinline))

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};

inline thread_local dim3 threadIdx;
inline thread_local dim3 blockIdx;
inline dim3 blockDim;
inline dim3 gridDim;
inline pthread_barrier_t zk_block_barrier;

inline void __syncthreads() { pthread_barrier_wait(&zk_block_barrier); }

// A persistent pool of emulated GPU threads (grown on demand): worker t runs thread t
// of every block of a launch in turn, with a barrier after each block (so blocks do
// not overlap: __shared__ storage is one static array per kernel).
struct ZkPool {
    std::mutex mu;
    std::condition_variable start, done;
    std::vector<std::thread> workers;
    std::function<void(unsigned)> job;
    unsigned long long generation = 0;
    unsigned active = 0, remaining = 0;

    void worker(unsigned id) {
        unsigned long long seen = 0;
        for (;;) {
            std::unique_lock<std::mutex> lk(mu);
            start.wait(lk, [&] { return generation != seen; });
            seen = generation;
            if (id >= active) continue;
            lk.unlock();
            job(id);
            lk.lock();
            if (--remaining == 0) done.notify_all();
        }
    }

    void run(unsigned nt, std::function<void(unsigned)> f) {
        std::unique_lock<std::mutex> lk(mu);
        while (workers.size() < nt) {
            unsigned id = (unsigned)workers.size();
            workers.emplace_back([this, id] { worker(id); });
            workers.back().detach();
        }
        job = std::move(f);
        active = remaining = nt;
        generation++;
        start.notify_all();
        done.wait(lk, [&] { return remaining == 0; });
    }
};

inline ZkPool& zk_pool = *new ZkPool;  // never destroyed: workers wait on it until exit

template <class F>
void zk_launch(dim3 grid, dim3 block, F body) {
    gridDim = grid;
    blockDim = block;
    unsigned nt = block.x * block.y * block.z;
    pthread_barrier_init(&zk_block_barrier, nullptr, nt);
    zk_pool.run(nt, [=](unsigned t) {
        threadIdx = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
        for (unsigned bz = 0; bz < grid.z; bz++)
            for (unsigned by = 0; by < grid.y; by++)
                for (unsigned bx = 0; bx < grid.x; bx++) {
                    blockIdx = dim3(bx, by, bz);
                    body();
                    pthread_barrier_wait(&zk_block_barrier);
                }
    });
    pthread_barrier_destroy(&zk_block_barrier);
}
