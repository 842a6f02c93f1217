// libmlgo-inliner.so: an inliner pass plugin that makes a stock clang decide with a policy compiled by XLA
// AOT (the class llvm::InlinerSizeModel of `mlgo export --aot`), with no custom LLVM build:
//
//   clang -Oz -fpass-plugin=libmlgo-inliner.so ...
//
// It registers a PluginInlineAdvisorAnalysis whose factory builds LLVM's own MLInlineAdvisor over a
// ReleaseModeModelRunner<InlinerSizeModel>, the pair LLVM's getReleaseModeAdvisor builds when the model
// is compiled into LLVM (llvm/lib/Analysis/MLInlineAdvisor.cpp): same features, same bookkeeping, same
// size-growth stop; only the model comes from this library. The advisor factory is handed the function
// analysis manager, while MLInlineAdvisor needs the module one: the plugin keeps the module analysis
// manager it is given in the analysis registration callback (the one the inliner then runs with).
//
// The library is built against one LLVM release (its headers) and uses that release's C++ ABI, so
// llvmGetPassPluginInfo first compares the LLVM it was built for with the LLVM running it (before
// touching any LLVM object) and, when they differ, prints why and returns API version 0, which makes
// PassPlugin::Load refuse it: clang then stops with an error instead of crashing.
//
// MLGO_INLINER_VERBOSE=1 in the environment prints one line per module on stderr (which model decides).

#include "llvm/Analysis/AssumptionCache.h"
#include "llvm/Analysis/BlockFrequencyInfo.h"
#include "llvm/Analysis/InlineAdvisor.h"
#include "llvm/Analysis/InlineCost.h"
#include "llvm/Analysis/InlineModelFeatureMaps.h"
#include "llvm/Analysis/MLInlineAdvisor.h"
#include "llvm/Analysis/OptimizationRemarkEmitter.h"
#include "llvm/Analysis/ProfileSummaryInfo.h"
#include "llvm/Analysis/ReleaseModeModelRunner.h"
#include "llvm/Analysis/TargetLibraryInfo.h"
#include "llvm/Analysis/TargetTransformInfo.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/IR/Module.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/raw_ostream.h"
#if LLVM_VERSION_MAJOR >= 22
#include "llvm/Plugins/PassPlugin.h"
#else
#include "llvm/Passes/PassPlugin.h"
#endif

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "InlinerSizeModel.h"

#if LLVM_VERSION_MAJOR != 19 && LLVM_VERSION_MAJOR != 22
#error "libmlgo-inliner is written for the LLVM 19 and LLVM 22 APIs"
#endif

using namespace llvm;

namespace {

// The module analysis manager of the compile in progress: set by the registration callback, read by the
// advisor factory (a plain function pointer, so it cannot capture). A constant-initialized pointer: the
// library has no static constructor.
ModuleAnalysisManager *CurrentMAM = nullptr;

// clang's default decision for a call site, as LLVM's getDefaultInlineAdvice (InlineAdvisor.cpp, a static
// function there) computes it; MLInlineAdvisor asks for it only under -ml-inliner-skip-policy.
bool defaultAdvice(CallBase &CB, FunctionAnalysisManager &FAM, const InlineParams &Params) {
  Function &Caller = *CB.getCaller();
  ProfileSummaryInfo *PSI = FAM.getResult<ModuleAnalysisManagerFunctionProxy>(Caller)
                                .getCachedResult<ProfileSummaryAnalysis>(*Caller.getParent());
  auto &ORE = FAM.getResult<OptimizationRemarkEmitterAnalysis>(Caller);
  auto GetAssumptionCache = [&](Function &F) -> AssumptionCache & { return FAM.getResult<AssumptionAnalysis>(F); };
  auto GetBFI = [&](Function &F) -> BlockFrequencyInfo & { return FAM.getResult<BlockFrequencyAnalysis>(F); };
  auto GetTLI = [&](Function &F) -> const TargetLibraryInfo & { return FAM.getResult<TargetLibraryAnalysis>(F); };
  Function &Callee = *CB.getCalledFunction();
  auto &CalleeTTI = FAM.getResult<TargetIRAnalysis>(Callee);
  auto GetInlineCost = [&](CallBase &Call) {
    bool RemarksEnabled = Callee.getContext().getDiagHandlerPtr()->isMissedOptRemarkEnabled("inline");
    return getInlineCost(Call, Params, CalleeTTI, GetAssumptionCache, GetTLI, GetBFI, PSI,
                         RemarksEnabled ? &ORE : nullptr);
  };
  bool Deferral = Params.EnableDeferral.value_or(false);
#if LLVM_VERSION_MAJOR >= 22
  return shouldInline(CB, CalleeTTI, GetInlineCost, ORE, Deferral).has_value();
#else
  return shouldInline(CB, GetInlineCost, ORE, Deferral).has_value();
#endif
}

InlineAdvisor *createAdvisor(Module &M, FunctionAnalysisManager &FAM, InlineParams Params, InlineContext IC) {
  ModuleAnalysisManager *MAM = CurrentMAM;
  if (MAM == nullptr || &MAM->getResult<FunctionAnalysisManagerModuleProxy>(M).getManager() != &FAM) {
    std::fprintf(stderr, "mlgo-inliner: error: the inliner runs with analysis managers the plugin was not "
                         "given; no advisor\n");
    return nullptr;  // the inliner reports "Could not setup Inlining Advisor"
  }
  if (const char *Verbose = std::getenv("MLGO_INLINER_VERBOSE"); Verbose && *Verbose && *Verbose != '0')
    errs() << "mlgo-inliner: " << M.getModuleIdentifier() << ": inlining decided by llvm::InlinerSizeModel ("
           << AnnotateInlinePassName(IC) << ")\n";
  auto GetDefaultAdvice = [&FAM, Params](CallBase &CB) { return defaultAdvice(CB, FAM, Params); };
#if LLVM_VERSION_MAJOR >= 22
  auto GetModelRunner = [&M](const std::vector<TensorSpec> &Features) -> std::unique_ptr<MLModelRunner> {
    return std::make_unique<ReleaseModeModelRunner<InlinerSizeModel>>(M.getContext(), Features, DecisionName);
  };
  return new MLInlineAdvisor(M, *MAM, GetModelRunner, GetDefaultAdvice);
#else
  auto Runner = std::make_unique<ReleaseModeModelRunner<InlinerSizeModel>>(M.getContext(), FeatureMap, DecisionName);
  return new MLInlineAdvisor(M, *MAM, std::move(Runner), GetDefaultAdvice);
#endif
}

void registerCallbacks(PassBuilder &PB) {
  PB.registerAnalysisRegistrationCallback([](ModuleAnalysisManager &MAM) {
    CurrentMAM = &MAM;
    // LLVM 19 notes the registration in PluginInlineAdvisorAnalysis's constructor (a static flag),
    // later releases ask the manager; registerPass constructs it only when nothing is registered yet.
    MAM.registerPass([] { return PluginInlineAdvisorAnalysis(createAdvisor); });
  });
}

// The version of the LLVM running this library (from its C API), or false when it cannot be told.
bool runningVersion(unsigned &Major, unsigned &Minor, unsigned &Patch) {
  using GetVersion = void (*)(unsigned *, unsigned *, unsigned *);
  auto *Get = reinterpret_cast<GetVersion>(dlsym(RTLD_DEFAULT, "LLVMGetVersion"));
  if (Get == nullptr)
    return false;
  Get(&Major, &Minor, &Patch);
  return true;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) PassPluginLibraryInfo llvmGetPassPluginInfo() {
  unsigned Major = 0, Minor = 0, Patch = 0;
  if (!runningVersion(Major, Minor, Patch)) {
    std::fprintf(stderr, "mlgo-inliner: warning: cannot tell which LLVM runs this plugin (no LLVMGetVersion); "
                         "it was built for LLVM " LLVM_VERSION_STRING "\n");
  } else if (Major != LLVM_VERSION_MAJOR || Minor != LLVM_VERSION_MINOR) {
    std::fprintf(stderr,
                 "mlgo-inliner: error: this plugin was built for LLVM " LLVM_VERSION_STRING
                 " and cannot run in LLVM %u.%u.%u; rebuild it with mlgo export --plugin --clang clang-%u from a "
                 "policy trained with that compiler\n",
                 Major, Minor, Patch, Major);
    return {0, "mlgo-inliner", LLVM_VERSION_STRING, nullptr};  // API version 0: PassPlugin::Load refuses it
  }
  return {LLVM_PLUGIN_API_VERSION, "mlgo-inliner", LLVM_VERSION_STRING, registerCallbacks};
}
