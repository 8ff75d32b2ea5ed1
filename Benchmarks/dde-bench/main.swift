// dde-bench: the cost of the method of steps (issue 18's benchmark).
//
// 1. Hutchinson u' = r·u·(1 − u(t − τ)/K), r = 1.8, K = 1, τ = 1, φ = 0.5, t ∈ [0, 10], with
//    MethodOfSteps(Tsit5()) at reltol = abstol = 1e-6: time per solve and per step, side by side in
//    the same run with the plain ODE of the same size (the logistic u' = r·u·(1 − u/K), Tsit5, same
//    tolerances and dtmax = τ, so the two take comparable steps); the ratio per step is what the
//    history costs (copying each step's polynomial, reading it back).
// 2. Work-precision of MethodOfSteps over explicit and stiff methods on u' = −u(t − 1), φ = 1
//    (exact piecewise-polynomial solution, Paul 1994 eq. 1.1.1): largest error at t = 1…10 against
//    time per solve; 3. the same on Mackey-Glass (DDETST A1, t ∈ [0, 500]) against the tests'
//    reference; 4. JiTCDDE on both (Benchmarks/peers/dde_jitcdde.py) when .venv-peers/ has it,
//    skipped otherwise, and the time ratio; 5. steps longer than the lag (fixed-point iteration)
//    against steps capped at it on u' = −u(t − 0.01): steps, rejections, f evaluations.
//
// --malloc-check TOL: one Hutchinson solve at reltol = abstol = TOL, then exit, printing nothing
// unless --show-steps. Run under the malloc counter at two tolerances:
//   gcc -shared -fPIC -O2 -o /tmp/malloc-count.so scripts/malloc-count.c
//   LD_PRELOAD=/tmp/malloc-count.so .build/release/dde-bench --malloc-check 1e-6
//   LD_PRELOAD=/tmp/malloc-count.so .build/release/dde-bench --malloc-check 1e-10
// (difference of the counts) / (difference of the steps) is the allocations per step.
//
// Timings on a shared machine are noise unless the machine is idle; the JSON says so.
//
// Closing note (e0f6ca8 and after; 2-core machine shared with ~5 builds, load 16, so timings are
// noise and the instruction counts are the figure):
// - Hutchinson, MethodOfSteps(Tsit5()), reltol = abstol = 1e-6: 64 steps, 386 f. Instructions per
//   solve (valgrind --tool=callgrind, --repeat-solves 101 minus 1, /100): 760 k before the history's
//   storage was made @exclusivity(unchecked), 468 k after (7 300 per step). The logistic ODE with
//   Tsit5 at the same tolerances and dtmax 1: 143 k per solve, 28 steps (5 100 per step): the DDE
//   step costs 1.43x the ODE step, the solve 3.3x (more steps: dtmax = τ and the tracked points).
//   Wall clock under that load: 504 µs (DDE) vs 96 µs (ODE) per solve, ratio per step 2.3 before
//   the change. Issue 18's goal of 20 µs per solve is not shown here (an idle machine is needed).
// - Allocations (scripts/malloc-count.c, whole process): 774, 790, 804, 817 at 31, 64, 138, 328
//   steps (reltol 1e-4 ... 1e-10): no allocation per step; the count grows by ~14 per doubling of
//   the steps, the amortised growth of the history's and the solution's arrays.
// - Work-precision on u' = −u(t − 1) (error at t = 1...10): see the table this prints; Vern7/Vern9
//   reach 3e-13 in 19-25 steps, Tsit5 9e-11 in 91, Rodas5P 5e-11 in 146, KenCarp4 5e-10 in 284.
// Closing note, fixed-point iteration and peer (ddefp branch; release build, load 10-17 while
// measuring, so times are noise and the counts are the figure):
// - Hutchinson unchanged by the fixed-point wrapper: 64 steps, 386 f at 1e-6 (its steps stay
//   below τ = 1). Allocations (malloc-count, whole process) 784, 800, 814, 827 at 31, 64, 138,
//   328 steps: still none per step, 10 more per solve than before (the wrapper's buffers).
// - u' = −u(t − 0.01) on [0, 10], reltol 1e-8, abstol 1e-12 (section 5): Tsit5 76 steps,
//   1,256 f with the iteration against 1,000 steps, 6,002 f capped at τ; Vern7 32 / 1,143 f
//   against 1,000 / 16,001; Rodas5P 119 / 1,996 against 1,000 / 10,001; no rejections.
// - JiTCDDE 1.8.3 (section 4; time per solve, ours/JiTCDDE, noisy): u' = −u(t − 1) at 1e-6
//   187 vs 264 µs (0.71), 1e-8 182 vs 582 µs (0.31); Mackey-Glass at 1e-6 772 µs vs 11.5 ms
//   (0.067), 1e-8 1.5 vs 21.3 ms (0.073), at similar errors (table). JiTCDDE's time includes
//   its Python loop over the ten output times; its C compilation is outside the timing.
// Closing note, setup and loop costs (loopfast branch; instructions by callgrind on the stripped
// release binary, --repeat-solves 101 minus 1, /100; machine at load 18-21, so times are noise):
// - Hutchinson, MethodOfSteps(Tsit5()), 1e-6: 509 k -> 394 k instructions per solve (64 steps,
//   386 f; -23%). The logistic ODE (Tsit5, dtmax 1, 28 steps): 144 k -> 129 k (-11%). Where
//   (inclusive counts per solve, Hutchinson): DDEProblem.validate 35 k -> 6 k (its key paths
//   `\.primal`, instantiated at run time on every call); DDEHistory.locate 47 k -> 21 k (the
//   last step found tried first); the arrays' growth from empty, now room for 64 steps:
//   history.append 36 k -> 18 k and the loop's recordStep (dense output, saved points)
//   99 k -> 71 k; beginIterate on empty stage arrays 14 k -> 1 k. Logistic: recordStep
//   48 k -> 31 k, ExplicitRKStepper.init 20 k -> 14 k (ButcherTableau's `\.count` key path),
//   the integrator's init +4 k (the reservations). Lorenz Tsit5 [Double] (rk-bench, end point
//   only: no dense output, no saved steps) gains only the key path, ~5 k per solve (not
//   measured: rk-bench computes its references before `--lorenz`, too slow under callgrind).
// - Median wall time per solve under that load (first section of this benchmark, base -> this;
//   it has no thread-CPU-time mode): 112 -> 93 µs (Hutchinson), 32 -> 28 µs (logistic): noise,
//   not a speed claim.
// - Allocations (malloc-count, whole process): 713, 713, 733, 744 at 31, 64, 138, 328 steps
//   (reltol 1e-4 ... 1e-10; 792, 808, 822, 835 before): none per step.
// - Issue 18's goal (20 µs per solve) is not reached. What remains per solve (394 k): the
//   history reads, 384 per solve at ~190 instructions each with the step location (73 k); the
//   loop's recordStep, ~1,100 per step (dense output append, saving every step: one state array
//   allocated per saved step, which the [[S]] solution layout needs); the Tsit5 stage arithmetic
//   ~860 per step; ExplicitRKStepper.init rebuilding its tableau arrays, 14 k per solve; the
//   solution's release (65 state arrays); PiecewisePolynomial copied through its value witness
//   when the driver reads `integrator.interpolant` each step, 12 k (making that getter
//   inlinable did not remove the copy).
// Closing note, ddefast branch (callgrind on the stripped release binary, --repeat-solves 101
// minus 1, /100; load 12-35 while measuring, so times are noise and the counts are the figure):
// - Hutchinson, MethodOfSteps(Tsit5()), 1e-6 (64 steps, 386 f, same as before): 401,803 ->
//   336,112 instructions per solve (-16%). Inclusive counts per solve: history reads with their
//   location 73 k -> 52 k (the step of the last interior read answered without a search or the
//   per-step loads); propagatedDiscontinuityLevels 11.6 k -> 1.8 k (one lag: singleLagLevels);
//   the driver's copy of the integrator's dense output after each step, 12 k -> 0 (a `_read`
//   accessor); the stepper's setup, ~11 k less (coefficients built once with the tableau,
//   ExplicitRKStepper.init inlinable so that it specializes).
// - Allocations: malloc-count 695, 695, 715, 726 at 31, 64, 138, 328 steps (712, 712, 732, 743
//   before): none per step with saveEverystep: false. Per solve with every step saved (the
//   benchmark's solve; --repeat-solves 11 minus 1, /10): 142 -> 113 mallocs, of which 65 are
//   the saved states, one array per saved step, which the [[S]] layout of ODESolution.u needs.
// - Still short of issue 18's 20 µs. What remains per solve (336 k): the Tsit5 attempts 134 k
//   (stage arithmetic ~860 per step with 12 array uniqueness checks, plus the six reads); the
//   loop's recordStep 79 k (the dense output's stage-weighted append ~1,000 per step: the
//   Horner sums over 7 stages x 3 powers with overflow checks; one saved-state array per step);
//   releasing the solution 31 k (65 state arrays); the history's own copy of each step 18 k;
//   the integrator's init 17 k; ~12 k of copies of the stepper struct during setup (an
//   outlined copy called ~23 times per solve). A flat state buffer behind `sol.u` would remove
//   one allocation per saved step and most of the release; it changes the layout every solver
//   saves into, so it was left for a change checked with rk-bench and every solver's tests.
// - Step count: DelayDiffEq.jl's figures for this problem (50 µs, 1,076 allocations; its
//   PR #350) give no step count, so the 64 steps were not compared with it (not checked).
// Closing note, ddefast2 branch (callgrind on the stripped release binary, --repeat-solves 101
// minus 1, /100; load 8-20 while measuring, so times are noise and the counts are the figure):
// - Hutchinson, MethodOfSteps(Tsit5()), 1e-6 (64 steps, 386 f, unchanged): 332,806 -> 322,648
//   instructions per solve (-3.1%); the logistic ODE 119,363 -> 115,010 (-3.6%). Where: the dense
//   output's stage-weighted append without overflow tests on the weight index (-8.2 k, every
//   explicit RK solve with dense output gains it); PiecewisePolynomial.reserveCapacity and
//   DDEHistory.init inlinable, so that they specialize, and no conformance lookup for a Double
//   history (-2.0 k). The JSON rows (errors, steps, f, rejections) are identical to the base's.
// - Step count (--steps-study): 64 steps are what the tolerance needs, not the tracked points.
//   Tracking off: 60 steps, 3 rejected, error 1.3e-4 at t = 1…10 (against Vern9 at 1e-12); with
//   the stops t = 1; 1, 2; 1, 2, 3; 1…4: 59, 61, 62, 63 steps, errors 1.5e-5, 1.6e-6, 1.1e-6,
//   8.2e-7; tracking on (t = 1…5, order 5 + 1 levels): 64 steps, error 2.2e-7. The stops cost 4
//   steps and buy a 600x smaller error. The logistic ODE takes 28 steps (also without dtmax), but
//   its solution is monotone, whereas Hutchinson's (r·τ = 1.8 > π/2) oscillates.
// - Mallocs per solve (malloc-count, (11 - 1 solves)/10; --span T, --save): saving every step
//   112.4 at 64 steps and 321.5 at 247 (one state array per saved step: the [[S]] layout of
//   sol.u); saving the end only 53.4, 75.5, 97.5 at 64, 247, 985 steps; at ten saveat times
//   69.5, 92.5 at 64, 247 steps. Nothing per step: +22 per four times the steps is the doubling
//   of the 11 growable arrays (dense output 6, history 5) past the 64 steps they reserve. Whole
//   process, one solve: 698, 698, 718, 729 at 31, 64, 138, 328 steps (702, 702, 722, 733 before).
// - Wall clock, base and this branch alternated in one session, three runs each (load 8-13:
//   noise): Hutchinson 74.7-133.6 µs vs 41.4-71.5 µs per solve, logistic 16.3-39.6 vs 14.2-28.9.
// - Not done: the history still keeps its own copy of each step (~280 instructions per step,
//   18 k per solve). Reading the integrator's dense output in place needs the stepper's dense
//   append split into "evaluate the extra stages" (may call f, which reads the history) and
//   "write the polynomial" (no f), so that the history can drop its share of the arrays between
//   the two and the append stays in place; today one call does both (ExplicitRK's lazy Vern
//   stages), and any share held across it makes the append copy the whole dense output.
// Closing note, ddehist branch (callgrind on the stripped release binary, --repeat-solves 101
// minus 1, /100; base = /work/base's build of 4ced599, measured in the same session, load 8-12):
// - The history no longer copies each step: the stepper's dense append is split
//   (ODEStepper.prepareDenseStep: Vern's lazy stages, which call f, first), and the history moves
//   its steps into the integrator's dense output for the append and takes them back after it (a
//   swap of the PiecewisePolynomial: no copy, no reference counting); the solution's dense output
//   is the history's. Hutchinson, Tsit5, 1e-6 (64 steps, 386 f, unchanged): 336,188 -> 319,384
//   instructions per solve (-5.0%): the copy (history.append, ~280 per step) is gone, the two
//   swaps add ~100 per step, the reads with the tentative step kept apart ~+1 k per solve, and
//   `locate` inlined into the reads outside the interior interval -1.6 k. Logistic ODE:
//   114,873 -> 114,869-114,889 (unchanged; the spread is code layout). Sharing the arrays instead (a reference to each,
//   dropped before every append so that it writes in place) was measured first: 355,241 per solve,
//   ten atomic reference-count operations per step cost more than copying a one-component step.
// - Mallocs per solve (saving every step, (11 - 1 solves)/10): 112.9 -> 108.0; whole process, one
//   solve (--malloc-check): 694, 694, 705, 711 at 31, 64, 138, 328 steps (697, 697, 717, 728 on
//   the base): the history's five growable arrays are gone; nothing per step.
// - Same rows: --steps-study output and the JSON rows (errors, steps, f, rejections) of the
//   default run identical to the base binary's; rk-bench --quick error columns identical too.
// - Not done: the reads themselves are little changed (386 per solve; the 269 inside the
//   interval of the last interior read ~70 instructions each, the other 117 ~190 with the search;
//   unchecked index arithmetic in the Horner sum, the slow path out of line). A read that moves
//   on to the next step still takes the full search: that is where the rest is.
// Closing note, ddesetup branch (fixed per-solve costs; callgrind on the stripped release binary,
// --repeat-solves 101 minus 1, /100; base = main 4ced599 rebuilt here and the lead's binary, same
// counts; load 10-12 while measuring):
// - Hutchinson, MethodOfSteps(Tsit5()), 1e-6 (64 steps, 386 f, unchanged): 336,187 -> 326,162
//   instructions per solve (-3.0%); the logistic ODE 114,864 -> 109,301 (-4.8%). (The 322,648 of
//   the ddefast2 note above was not reproduced: 4ced599 measures 336,187 here.) Where, inclusive
//   per solve: SolveSetup inlinable, so it specializes, and stops already sorted kept as given
//   6.2 k -> 1.8 k (logistic 3.7 k -> 1.7 k); ButcherTableau's fields in one shared instance, so
//   a copy of the stepper retains one object instead of ten arrays (the tableau's value-witness
//   copies and releases, ~2.8 k, gone; the wrapped stepper's release 4.8 k -> 2.6 k); the
//   stepper's interpolation weights and stiffness buffer allocated on first use, not in init
//   (ExplicitRKStepper.init 4.6 k -> 2.6 k); FixedPointStepper.init inlinable. Mallocs per solve
//   (malloc-count, (11 - 1 solves)/10): 112.9 -> 106.0 (logistic 50.0 -> 47.0); whole process,
//   one solve, saveEverystep false: 687, 687, 707, 718 at 31, 64, 138, 328 steps (702 ... 733
//   before): none per step. JSON rows (errors, steps, f, rejections) identical to the base's.
//   Lorenz Tsit5 [Double] (rk-bench --overhead --lorenz array, SOLVES=11 minus 1, /10; 867 steps,
//   end point only): 1,669,390 -> 1,667,691 per solve, so the ODE loop is not slower.
// - Tried and reverted: saving every step into a fresh buffer (zeroed() + copyComponents) so that
//   the attempt no longer copies `uNew` on write (the saved step's buffer comes back as `uNew`
//   two steps later: the 22 k "copy per attempt" is that, one per saved step). It removed the
//   copy-on-write (-21 k) but `[S](repeating:count:)` allocates through the unspecialized
//   `_allocateBufferUninitialized`, which looks up the storage class's metadata on every call:
//   +48 k in recordStep, 355 k per solve in all. The copy-on-write is the cheapest way to give
//   each saved step its array: ~330 instructions, of which ~275 are the allocation itself.
// - What remains of the fixed costs (inclusive per solve): releasing the solution 21 k (65 state
//   arrays, the [[S]] layout of sol.u) and the saved-state copies 22 k, both one allocation per
//   saved step; the integrator's init 8.4 k (its begin() 2.7 k: f twice for the first step) and
//   its release 3.7 k; DDEProblem.validate 6 k and DDEHistory.init 6 k (not this branch's).
// Closing note, ddeappend branch (the dense append and the delayed reads; callgrind on the
// stripped release binary, --repeat-solves 101 minus 1, /100; base = the lead's build of main
// 13d79d1 in /work/base, measured in the same session):
// - Hutchinson, MethodOfSteps(Tsit5()), 1e-6 (64 steps, 386 f, unchanged): 311,785 -> 256,311
//   instructions per solve (-17.8%); the logistic ODE 109,301 -> 92,922 (-15.0%). Inclusive per
//   solve: the dense append (ExplicitRKStepper.appendDenseStep) 55.2 k -> 20.0 k, 862 -> 312 per
//   step: one step record appended where five arrays took one element each, the values written
//   into room kept ahead instead of an array append, no copy of `tableau.interpolant` (four
//   retains and releases), the weights read from the coefficient block, and Tsit5's shape with
//   constant trip counts and no zero-weight test; the loop's recordStep 75.2 k -> 38.1 k. The
//   reads (386 per solve) 52.7 k -> 38.2 k: a read past the last interior interval tries the
//   next step's interior before `locate` (58 of the 67 reads a solve that left it), located
//   23.2 k -> 14.9 k, and three correction rows summed written out. The step record is a
//   top-level type: nested in the generic PiecewisePolynomial, its array's metadata was looked
//   up at run time (~1.1 k per solve, 1.7 k for the logistic ODE).
// - Lorenz Tsit5 [Double] (rk-bench --overhead --lorenz array, SOLVES=11 minus 1, /10; end point
//   only, no dense output): 1,669,434 -> 1,670,360 per solve (+0.06%, ~1 instruction a step:
//   code layout; this solve appends no dense output).
// - Mallocs per solve (malloc-count, (11 - 1 solves)/10): saving every step 101.0 -> 97.0; the
//   end only 42.0, 54.0, 66.0 -> 38.0, 42.0, 46.0 at 64, 247, 985 steps (two growable arrays in
//   the dense output instead of seven); logistic 47.0 -> 43.0. Whole process, one solve
//   (--malloc-check): 682, 682, 685, 687 at 31, 64, 138, 328 steps (685, 685, 696, 702 on the
//   base): nothing per step.
// - Same bits: --steps-study output and the default run's JSON rows (errors, steps, f,
//   rejections; 26 + 15 + 6 rows) identical to the base binary's; rk-bench --quick's 173 error
//   cells identical.
// - Issue 18's 20 µs (~190-200 k instructions here) is not reached. What remains per solve
//   (inclusive): the Tsit5 attempts 132 k, of which f 66 k (the reads 38 k, of which 50 reads
//   before t0 through the initial-history closure); releasing the solution ~26 k and the saved
//   states' copies (one array per saved step, the [[S]] layout of sol.u); recordStep 38 k, of
//   which the append 20 k and the saving 7 k.
// Closing note, ddesave branch (per-solve fixed costs and saving; callgrind on the stripped
// release binary, --repeat-solves 101 minus 1, /100; base = the lead's build of main 13d79d1,
// measured in the same session):
// - Hutchinson, MethodOfSteps(Tsit5()), 1e-6 (64 steps, 386 f, unchanged): 311,794 -> 296,334
//   instructions per solve (-5.0%); the logistic ODE 109,310 -> 103,936 (-4.9%). Where: the
//   solvers' state buffers made by code that specializes (`Array(specializedRepeating:count:)`;
//   `Array(repeating:count:)` allocates through the standard library's unspecialized
//   `_allocateUninitialized`, a metadata lookup per call: 815 against 473 instructions to
//   allocate, fill and release one Double); DDEProblem.validate inlinable, 6.1 k -> 0.8 k; the
//   propagated points reserved and the stops made in one array (4 + 2 allocations -> 1 + 1)
//   (these three: -9.7 k, logistic -3.5 k); the stepper moved, not copied, into the fixed-point
//   wrapper and the integrator (`consume`; a copy went through value witnesses and left the
//   stepper's buffers shared until their first writes copied them, the stage block at the
//   first `start` included): -5.8 k, logistic -1.9 k.
//   Mallocs per solve (malloc-count, (11 - 1 solves)/10): 101.0 -> 90.0 (logistic 47.0 ->
//   45.0); --malloc-check 660, 660, 671, 677 at 1e-4 ... 1e-10 (680, 680, 691, 697 on the
//   base): none per step. --steps-study and the JSON rows identical to the base binary's.
// - Saving every step is one allocation and one release per saved state, which the [[S]]
//   layout of sol.u needs: the attempt's copy-on-write of `uNew` (21.6 k per solve, ~337 per
//   copy, ~280 of them malloc) and the solution's release (20.8 k, 65 arrays through the
//   runtime's generic destroy and free). The second reference behind the copy is the saved
//   state itself (it shares `_u`'s buffer, which comes back as `uNew` two steps later). Saving a
//   fresh buffer instead (zeroed() + copyComponents) was measured again with the specialized
//   allocation: +4.9 k per solve with an append-built buffer, and in a micro benchmark a fresh
//   zeroed buffer plus the copy costs 690 instructions against the copy-on-write's 617 (one
//   Double, allocation and release included): the copy-on-write is the cheapest way to give each
//   saved step its array. glibc makes the allocations dear here: 65 chunks of 48 bytes overflow
//   the 7-entry tcache, and the next solve's first large request (the dense output's 4 KB)
//   consolidates the fastbins (malloc_consolidate 3.5 k, _int_malloc ~210 per small request).
// - Lead, after merging with the one Rosenbrock stepper (issue 15): DiffEqState's `zeroed()` for
//   arrays is `Array(repeating:count:)` again. It is called where nothing specializes too (that
//   stepper's init), and there `Array(specializedRepeating:count:)`'s sequence copy looked up
//   `Repeated`'s conformances on every call (~18 k instructions a call: Rodas5P HIRES 20,266 ->
//   22,226 per attempt); the explicit RK, integrator and delay setups keep the specialized form.
// - Not done: the history's deinit instantiates the metadata of its two optional fields
//   (`lagScaling`, `captured`: Optional<(Scalar, Double)>, ~1.1 k per solve; a class's deinit
//   does not specialize), left alone because the reads use them; the remaining fixed costs are
//   the integrator's init 12.4 k (5 k of it the consolidation above, 2.9 k the two f of the
//   first step size) and the intermediate solution and integrator releases (~5.5 k).
// Closing note, ddesolve branch (session 15; callgrind on the stripped release binary,
// --repeat-solves 101 minus 1, /100; base = the lead's build of main 43ecf29, same session,
// load 10-14, so times are noise and the counts are the figure):
// - Hutchinson, MethodOfSteps(Tsit5()), 1e-6 (64 steps, 386 f, unchanged): 242,617 ->
//   223,644 instructions per solve (-7.8%); the logistic ODE 90,113 -> 87,933 (-2.4%). Where:
//   the delayed read and DelayedRHS inlined into the stages (-7.0 k); ExplicitRK's extra-stage
//   test inlined, its stages out of line (the inlining had made it a call, twice a step,
//   2.9 k), and no retain and release of the state around each dense append (-6.6 k for the
//   two); the history's deinit without the metadata of an optional of the scalar, three setup
//   allocations fewer (-2.9 k together); the stepper's scratch buffers from one zero state
//   (-0.7 k); the history's per-step calls inlined (-1.7 k). Lorenz Tsit5 [Double] (rk-bench
//   --overhead --lorenz array, SOLVES=11 minus 1, /10): 1,666,902 -> 1,667,386 (+0.03%).
// - Saving each state as a fresh exact-size copy (a `copying:` SavingRecorder and a
//   DiffEqState.savedCopy()) was measured and reverted: 242,622 -> 244,337, logistic 90,113 ->
//   92,525. The copy-on-write it replaces is already one allocation per saved state (the
//   saved buffer comes back as uNew two steps later and the attempt's write copies it: the
//   copy becomes the accepted state, saved in turn). The fresh copy costs 301
//   instructions against the copy-on-write's 337, but the working buffers then need
//   allocations of their own (86 -> 90 mallocs per solve). A saved state's ~650 instructions
//   are mostly the allocator: malloc ~220 and free ~115 per call in this loop (each solve's
//   first large request, the dense output's 4 KB, consolidates the fastbins that the previous
//   solution's 65 frees filled, and the small requests after it take _int_malloc's slow
//   path), and the runtime's allocation and release around them (~150): ~42 k per solve,
//   fixed by the [[S]] layout of sol.u.
// - Mallocs per solve (malloc-count, 11 minus 1 solves, /10) 86 -> 83; --malloc-check 666,
//   671 -> 624, 629 at 1e-6, 1e-10 (64, 328 steps): nothing per step. --steps-study and the
//   default run's JSON (timing keys stripped) identical to the base binary's.
// - Not reached: 20 µs (~182 k at the lead's instructions per ns). What remains (inclusive,
//   per solve, 223.6 k): the attempts 122.9 k (the proposal's copy-on-write, one per saved
//   state, 23.1 k; the stages with f and the reads inlined ~100 k, of which, read off the
//   disassembly, ~60 instructions a stage are the array loops' set-up for one component); recordStep 33.8 k (dense append 19.6 k,
//   saving 7.0 k); releasing the solution 23.5 k (its 65 state arrays 19.3 k); the
//   integrator's init 9.2 k.
import DelayDE
import DiffEq
import Foundation
import NotebookSupport

struct Hutchinson: DDEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ h: DDEHistory<S>, _ p: [S], _ t: S) {
        du[0] = p[0] * u[0] * (1 - h(p, t - p[2], idxs: 0) / p[1])
    }
    func history<S: DiffEqScalar>(_ out: inout [S], _ p: [S], _ t: S) { out[0] = 0.5 }
}

let hutchinson = DDEProblem(model: Hutchinson(), u0: [0.5], tspan: (0, 10), p: [1.8, 1.0, 1.0], constantLagParameters: [2])

if let i = CommandLine.arguments.firstIndex(of: "--malloc-check"), i + 1 < CommandLine.arguments.count,
    let tol = Double(CommandLine.arguments[i + 1])
{
    let sol = try solve(hutchinson, MethodOfSteps(Tsit5()), reltol: tol, abstol: .scalar(tol), saveEverystep: false)
    if CommandLine.arguments.contains("--show-steps") { print("reltol \(tol): \(sol.stats.naccept) steps") }
    exit(0)
}

// 1. Hutchinson against the plain logistic ODE.
let logistic = ODEProblem(
    ClosureRHS<Double>({ du, u, p, _ in du[0] = p[0] * u[0] * (1 - u[0] / p[1]) }), u0: [0.5], tspan: (0, 10), p: [1.8, 1.0])

// --repeat-solves N dde|ode: N solves at reltol 1e-6, then exit (for instruction counts under
// valgrind --tool=callgrind, which a loaded machine does not disturb: run N = 1 and N = 101).
// With dde, `--span T` integrates Hutchinson over [0, T] and `--save every|end|saveat` saves every
// step (the default), the end only, or at t = 1, 2, …, 10: under the malloc counter, N = 1 and
// N = 11 at two spans give the mallocs per solve and whether they grow with the steps.
if let i = CommandLine.arguments.firstIndex(of: "--repeat-solves"), i + 2 < CommandLine.arguments.count,
    let n = Int(CommandLine.arguments[i + 1])
{
    let span = CommandLine.arguments.firstIndex(of: "--span").flatMap { Double(CommandLine.arguments[$0 + 1]) } ?? 10
    let mode = CommandLine.arguments.firstIndex(of: "--save").map { CommandLine.arguments[$0 + 1] } ?? "every"
    let problem = DDEProblem(
        model: Hutchinson(), u0: [0.5], tspan: (0, span), p: [1.8, 1.0, 1.0], constantLagParameters: [2])
    var steps = 0, saved = 0
    for _ in 0..<n {
        if CommandLine.arguments[i + 2] == "dde" {
            let sol = try solve(
                problem, MethodOfSteps(Tsit5()), reltol: 1e-6, abstol: 1e-6,
                saveat: mode == "saveat" ? .times((1...10).map(Double.init)) : nil,
                saveEverystep: mode == "every" ? nil : false)
            (steps, saved) = (sol.stats.naccept, sol.t.count)
            blackHole(sol)
        } else {
            blackHole(try solve(logistic, Tsit5(), reltol: 1e-6, abstol: 1e-6, dtmax: 1))
        }
    }
    if CommandLine.arguments.contains("--show-steps") { print("span \(span), save \(mode): \(steps) steps, \(saved) saved") }
    exit(0)
}

// --steps-study: where Hutchinson's 64 steps at 1e-6 come from. The same solve with tracking on
// (the propagated points t = 1 … 5 as stops), off, and off with only the first k points as
// stops; the steps, f evaluations and the largest error at t = 1, …, 10 against a Vern9 solve at
// reltol = abstol = 1e-12 (ours: a diagnostic, not a reference for a test); and the logistic ODE.
if CommandLine.arguments.contains("--steps-study") {
    let reference = try solve(hutchinson, MethodOfSteps(Vern9()), reltol: 1e-12, abstol: 1e-12)
    func row(_ label: String, _ sol: ODESolution<Double>) throws {
        var err = 0.0
        for k in 1...10 { err = max(err, abs(try sol(Double(k))[0] - reference(Double(k))[0])) }
        print("  \(pad(label, 34)) \(pad("\(sol.stats.naccept)", 4)) steps \(pad("\(sol.stats.nreject)", 3)) rejected "
            + "\(pad("\(sol.stats.nf)", 4)) f  error \(sig(err, 3))")
    }
    print("Hutchinson, Tsit5, reltol = abstol = 1e-6 (error: max at t = 1…10 against Vern9 at 1e-12):")
    try row("tracking on (stops 1, 2, 3, 4, 5)", try solve(hutchinson, MethodOfSteps(Tsit5()), reltol: 1e-6, abstol: 1e-6))
    for k in 0...4 {
        let stops = (0..<k).map { Double($0 + 1) }
        try row(
            "tracking off, stops \(stops.isEmpty ? "none" : stops.map { "\(Int($0))" }.joined(separator: ", "))",
            try solve(
                hutchinson, MethodOfSteps(Tsit5(), trackDiscontinuities: false), reltol: 1e-6, abstol: 1e-6,
                tstops: stops))
    }
    let ode = try solve(logistic, Tsit5(), reltol: 1e-6, abstol: 1e-6, dtmax: 1)
    let free = try solve(logistic, Tsit5(), reltol: 1e-6, abstol: 1e-6)
    print("  logistic ODE, Tsit5, 1e-6: \(ode.stats.naccept) steps with dtmax 1, \(free.stats.naccept) without")
    exit(0)
}

let out = try ScriptOutput(name: "dde-bench")

let ddeSol = try solve(hutchinson, MethodOfSteps(Tsit5()), reltol: 1e-6, abstol: 1e-6)
let odeSol = try solve(logistic, Tsit5(), reltol: 1e-6, abstol: 1e-6, dtmax: 1)
let ddeTime = try timePerCall { blackHole(try solve(hutchinson, MethodOfSteps(Tsit5()), reltol: 1e-6, abstol: 1e-6)) }
let odeTime = try timePerCall { blackHole(try solve(logistic, Tsit5(), reltol: 1e-6, abstol: 1e-6, dtmax: 1)) }
let ddePerStep = ddeTime / Double(ddeSol.stats.naccept)
let odePerStep = odeTime / Double(odeSol.stats.naccept)
print("Hutchinson, MethodOfSteps(Tsit5()), reltol 1e-6: \(sig(ddeTime * 1e6)) µs per solve, \(ddeSol.stats.naccept) steps, "
    + "\(ddeSol.stats.nf) f, \(sig(ddePerStep * 1e9)) ns per step")
print("logistic ODE, Tsit5, reltol 1e-6, dtmax 1:     \(sig(odeTime * 1e6)) µs per solve, \(odeSol.stats.naccept) steps, "
    + "\(odeSol.stats.nf) f, \(sig(odePerStep * 1e9)) ns per step")
print("ratio per step (DDE / ODE): \(sig(ddePerStep / odePerStep, 3)); per solve: \(sig(ddeTime / odeTime, 3))")

// 2. Work-precision on u' = −u(t − 1).
func exact(_ t: Double) -> Double {
    var sum = 0.0, factorial = 1.0
    for n in 0...(Int(t.rounded(.down)) + 1) {
        if n > 0 { factorial *= Double(n) }
        let base = t - Double(n - 1)
        if base >= 0 { sum += (n % 2 == 0 ? 1 : -1) * pow(base, Double(n)) / factorial }
    }
    return sum
}
let unitLag = DDEProblem(
    f: { du, u, h, p, t in du[0] = -h(p, t - 1, idxs: 0) }, u0: [1.0], history: { _, _ in [1.0] }, tspan: (0, 10),
    constantLags: [1])
struct Point: Encodable {
    let method: String
    let tolerance: Double
    let error: Double
    let seconds: Double
    let steps: Int
}
var points: [Point] = []
func workPrecision(_ method: some MethodOfStepsAlgorithm, tolerances: [Double]) throws {
    for tol in tolerances {
        let sol = try solve(unitLag, MethodOfSteps(method), reltol: tol, abstol: .scalar(tol))
        var err = 0.0
        for k in 1...10 { err = max(err, abs(try sol(Double(k))[0] - exact(Double(k)))) }
        let time = try timePerCall(samples: 3) { blackHole(try solve(unitLag, MethodOfSteps(method), reltol: tol, abstol: .scalar(tol))) }
        points.append(Point(method: method.name, tolerance: tol, error: err, seconds: time, steps: sol.stats.naccept))
        print("  \(pad(method.name, 14)) tol \(pad(sig(tol, 1), 7)) error \(pad(sig(err, 3), 10)) \(pad(sig(time * 1e6), 9)) µs  \(sol.stats.naccept) steps")
    }
}
print("work-precision, u' = -u(t - 1):")
let tols = [1e-4, 1e-6, 1e-8, 1e-10]
try workPrecision(BS3(), tolerances: tols)
try workPrecision(Tsit5(), tolerances: tols)
try workPrecision(Vern7(), tolerances: tols)
try workPrecision(Vern9(), tolerances: tols)
try workPrecision(Rosenbrock23(), tolerances: [1e-4, 1e-6])
try workPrecision(Rodas5P(), tolerances: tols)
try workPrecision(KenCarp4(), tolerances: tols)

// 3. Work-precision on Mackey-Glass (DDETST A1), against the reference the tests commit.
let mackeyReference: [Double] = [
    5.1220304575546460e-01, 8.2818774781057347e-01, 1.0328172042647590e+00, 1.2627331651569047e+00,
    1.0072183547168414e+00, 5.4388363752501157e-01, 8.1284582132974237e-01, 1.0338060918693914e+00,
    1.2638264848737757e+00, 1.0104431117001342e+00,
]
let mackey = DDEProblem(
    f: { du, u, h, p, t in
        let d = h(p, t - 14, idxs: 0)
        du[0] = 0.2 * d / (1 + pow(d, 10)) - 0.1 * u[0]
    }, u0: [0.5], history: { _, _ in [0.5] }, tspan: (0, 500), constantLags: [14])
var mackeyPoints: [Point] = []
func mackeyPrecision(_ method: some MethodOfStepsAlgorithm, tolerances: [Double]) throws {
    for tol in tolerances {
        let sol = try solve(mackey, MethodOfSteps(method), reltol: tol, abstol: .scalar(tol))
        var err = 0.0
        for k in 1...10 { err = max(err, abs(try sol(Double(50 * k))[0] - mackeyReference[k - 1])) }
        let time = try timePerCall(samples: 3) { blackHole(try solve(mackey, MethodOfSteps(method), reltol: tol, abstol: .scalar(tol))) }
        mackeyPoints.append(Point(method: method.name, tolerance: tol, error: err, seconds: time, steps: sol.stats.naccept))
        print("  \(pad(method.name, 14)) tol \(pad(sig(tol, 1), 7)) error \(pad(sig(err, 3), 10)) \(pad(sig(time * 1e6), 9)) µs  \(sol.stats.naccept) steps")
    }
}
print("work-precision, Mackey-Glass (A1) on [0, 500]:")
try mackeyPrecision(BS3(), tolerances: [1e-4, 1e-6, 1e-8])
try mackeyPrecision(Tsit5(), tolerances: tols)
try mackeyPrecision(Vern9(), tolerances: tols)
try mackeyPrecision(Rodas5P(), tolerances: tols)

// 4. The peer: JiTCDDE on the same two problems (Benchmarks/peers/dde_jitcdde.py), when
// .venv-peers/ has it (scripts/install-peers.sh); ratio = ours (Tsit5, same tolerance) / JiTCDDE.
struct PeerPoint: Encodable {
    let problem: String
    let tolerance: Double
    let peerSeconds: Double
    let peerError: Double
    let oursSeconds: Double
    let oursError: Double
}
var peerPoints: [PeerPoint] = []
func peer(_ arguments: [String]) -> [String: Any]? { PythonPeers.run("dde_jitcdde.py", arguments) }
if PythonPeers.isAvailable {
    print("peer: JiTCDDE (Bogacki-Shampine 3(2), compiled C right-hand side), ratio = ours MethodOfSteps(Tsit5()) / JiTCDDE:")
    for (name, tol) in [("unitlag", 1e-6), ("unitlag", 1e-8), ("mackey", 1e-6), ("mackey", 1e-8)] {
        guard let r = peer([name, "\(tol)"]), let seconds = r["seconds"] as? Double, let error = r["error"] as? Double else {
            print("  \(name) \(tol): JiTCDDE not available (import or C compilation failed)")
            continue
        }
        let ours = (name == "unitlag" ? points : mackeyPoints).first { $0.method == "Tsit5" && $0.tolerance == tol }
        let oursSeconds = ours?.seconds ?? .nan
        print("  \(pad(name, 8)) tol \(pad(sig(tol, 1), 6)) JiTCDDE \(pad(sig(seconds * 1e6), 9)) µs error \(pad(sig(error, 3), 9)); "
            + "ours \(pad(sig(oursSeconds * 1e6), 9)) µs error \(pad(sig(ours?.error ?? .nan, 3), 9)); ratio \(sig(oursSeconds / seconds, 3))")
        peerPoints.append(PeerPoint(problem: name, tolerance: tol, peerSeconds: seconds, peerError: error, oursSeconds: oursSeconds, oursError: ours?.error ?? .nan))
    }
} else {
    print("peer: skipped (.venv-peers/ with jitcdde not found; scripts/install-peers.sh creates it)")
}

// 5. Steps longer than the lag: u' = -u(t - 0.01) on [0, 10] (exact values in
// Tests/DelayDETests/FixedPointTests.swift), unconstrained (fixed-point iteration) against steps
// capped at the lag (`constrained: true`), reltol 1e-8, abstol 1e-12.
struct FixedPointPoint: Encodable {
    let method: String
    let constrained: Bool
    let steps: Int
    let rejected: Int
    let evaluations: Int
    let seconds: Double
}
var fixedPointPoints: [FixedPointPoint] = []
let smallLag = DDEProblem(
    f: { du, u, h, p, t in du[0] = -h(p, t - 0.01, idxs: 0) }, u0: [1.0], history: { _, _ in [1.0] }, tspan: (0, 10),
    constantLags: [0.01])
func fixedPointEffect(_ method: some MethodOfStepsAlgorithm) throws {
    for constrained in [false, true] {
        let alg = MethodOfSteps(method, constrained: constrained)
        let sol = try solve(smallLag, alg, reltol: 1e-8, abstol: 1e-12)
        let time = try timePerCall(samples: 3) { blackHole(try solve(smallLag, alg, reltol: 1e-8, abstol: 1e-12)) }
        fixedPointPoints.append(
            FixedPointPoint(method: method.name, constrained: constrained, steps: sol.stats.naccept, rejected: sol.stats.nreject,
                evaluations: sol.stats.nf, seconds: time))
        print("  \(pad(method.name, 9)) \(constrained ? "capped at τ " : "fixed point ") \(pad("\(sol.stats.naccept)", 6)) steps "
            + "\(pad("\(sol.stats.nreject)", 4)) rejected \(pad("\(sol.stats.nf)", 7)) f  \(pad(sig(time * 1e6), 9)) µs")
    }
}
print("steps longer than the lag, u' = -u(t - 0.01) on [0, 10], reltol 1e-8:")
try fixedPointEffect(Tsit5())
try fixedPointEffect(Vern7())
try fixedPointEffect(Rodas5P())

struct Report: Encodable {
    let timingNote: String
    let hutchinsonMicrosecondsPerSolve: Double
    let hutchinsonSteps: Int
    let logisticMicrosecondsPerSolve: Double
    let logisticSteps: Int
    let ratioPerStep: Double
    let workPrecision: [Point]
    let mackeyGlassWorkPrecision: [Point]
    let jitcdde: [PeerPoint]
    let fixedPoint: [FixedPointPoint]
}
try out.writeJSON(
    Report(
        timingNote: "wall clock; on a shared machine with other builds running these are noise, not a benchmark",
        hutchinsonMicrosecondsPerSolve: ddeTime * 1e6, hutchinsonSteps: ddeSol.stats.naccept,
        logisticMicrosecondsPerSolve: odeTime * 1e6, logisticSteps: odeSol.stats.naccept,
        ratioPerStep: ddePerStep / odePerStep, workPrecision: points, mackeyGlassWorkPrecision: mackeyPoints,
        jitcdde: peerPoints, fixedPoint: fixedPointPoints),
    to: "dde-bench.json")
print("wrote \(out.folder.path)/dde-bench.json")
