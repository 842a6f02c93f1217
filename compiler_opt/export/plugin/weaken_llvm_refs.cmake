# cmake -DNM=... -DOBJCOPY=... -DINPUT=a.o -DOUTPUT=b.o -P weaken_llvm_refs.cmake
#
# Copies INPUT to OUTPUT with its undefined references to LLVM's C++ symbols (namespace llvm) made weak.
# A plugin built for one LLVM release then still loads into a clang of another release, whose libLLVM
# lacks some of them (LLVM 22 has no llvm::FeatureMap), so that llvmGetPassPluginInfo can run and refuse
# with a message naming both versions instead of dlopen failing on the first missing symbol. In the LLVM
# the plugin was built for every reference binds as usual. Only LLVM's symbols: a weak reference does not
# pull a member out of a static library, so the XLA runtime's must stay strong.
foreach(var NM OBJCOPY INPUT OUTPUT)
  if(NOT ${var})
    message(FATAL_ERROR "weaken_llvm_refs.cmake: set -D${var}=...")
  endif()
endforeach()
execute_process(COMMAND ${NM} --undefined-only --format=just-symbols ${INPUT} OUTPUT_VARIABLE symbols
                RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${NM} ${INPUT} failed (exit status ${status})")
endif()
string(REGEX MATCHALL "_Z(N|NK|TV|TI|TS)4llvm[^\n]*" llvm_symbols "${symbols}")
list(JOIN llvm_symbols "\n" listing)
file(WRITE ${OUTPUT}.weak "${listing}\n")
execute_process(COMMAND ${OBJCOPY} --weaken-symbols=${OUTPUT}.weak ${INPUT} ${OUTPUT} RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${OBJCOPY} --weaken-symbols failed on ${INPUT} (exit status ${status})")
endif()
