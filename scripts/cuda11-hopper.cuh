// Pre-included into llama.cpp's CUDA sources by scripts/build-cuda.sh when the toolkit is
// CUDA 11.8 and a Hopper-or-newer architecture is built. llama.cpp uses Programmatic Dependent
// Launch on sm_90+ from CUDA 11.8 on, but CUDA 11.8 declares its two device functions only for
// relocatable device code (-rdc); CUDA 12 defines them as these two PTX instructions
// (PTX ISA 7.8, sm_90), which CUDA 11.8's ptxas knows.
#if defined(__CUDACC__) && __CUDACC_VER_MAJOR__ < 12 && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
static __device__ __forceinline__ void cudaGridDependencySynchronize(void) {
    asm volatile("griddepcontrol.wait;" ::: "memory");
}
static __device__ __forceinline__ void cudaTriggerProgrammaticLaunchCompletion(void) {
    asm volatile("griddepcontrol.launch_dependents;" :::);
}
#endif
