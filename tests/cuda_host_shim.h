// CPU emulation of the few CUDA features zkdl's kernels use, so that tests can
// compile cuda/*.cu with g++ and run the kernels themselves on the host
// (tests/test_cuda_host.py). Force-included before the kernel sources.
//
// A launch runs the grid's blocks one after another; each block runs its threads as
// real OS threads so that __syncthreads() (a barrier) and __shared__ arrays (static
// storage, shared by the threads of the running block) behave as on a GPU. Slow, and
// meant for tiny grids only.
#pragma once
#include <pthread.h>

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

template <class F>
void zk_launch(dim3 grid, dim3 block, F body) {
    gridDim = grid;
    blockDim = block;
    unsigned nt = block.x * block.y * block.z;
    pthread_barrier_init(&zk_block_barrier, nullptr, nt);
    for (unsigned bz = 0; bz < grid.z; bz++)
        for (unsigned by = 0; by < grid.y; by++)
            for (unsigned bx = 0; bx < grid.x; bx++) {
                std::vector<std::thread> threads;
                threads.reserve(nt);
                for (unsigned t = 0; t < nt; t++)
                    threads.emplace_back([=]() {
                        blockIdx = dim3(bx, by, bz);
                        threadIdx = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
                        body();
                    });
                for (auto& th : threads) th.join();
            }
    pthread_barrier_destroy(&zk_block_barrier);
}
