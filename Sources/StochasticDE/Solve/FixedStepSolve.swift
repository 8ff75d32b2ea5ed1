import DiffEqCore

/// The fixed-step solve: what the shared loop (`ODEIntegrator.solve()` over ``SDELoopStepper``)
/// does for a method without an error estimate, fixed `dt`, no callbacks and no
/// `isOutOfDomain`, in one loop without the loop's per-step controller and event bookkeeping.
/// `solve` takes it for ``EM``, ``EulerHeun`` and ``RKMil`` when those conditions hold.
///
/// The same solve bit for bit: the step times come from the loop's own rule (`clippedStep`
/// toward the next stop or the end, `t + h`, landing exactly on stops and on `t1`), the noise is
/// moved, snapped to `t1` and drawn as ``SDELoopStepper``'s `attempt` does (or from the
/// ``WienerRun`` the noise lends, the same values), the kernel runs on the same arrays (EM
/// written out on the stepper's own workspaces, the same operations in the same order), saving
/// goes through the loop's `SavingRecorder` with the stepper's own interpolant and dense steps,
/// a non-finite step ends the solve through the loop's `rejectAttempt` and the stepper's
/// `explainFailure` (same return code and message), and `maxiters`, the statistics and the
/// initial evaluation of `f` are the loop's (`FixedStepSolveTests` compares both on every
/// option this covers).
///
/// `stepper` is validated and its noise is at `setup.t0`; `setup` is the loop's validation of
/// `drift` with the options (`t1 > t0`, so the direction is +1), and the caller checked the
/// conditions above.
///
/// Performance: EM on scalar GBM (sde-bench `em-scalar+solve`, callgrind) 304 instructions per
/// step, 4-D 877, the same scalar solve on the shared loop 955. Before the Wiener run and the
/// plain EM steps it was 641: the loop 174, `WienerProcess.advance` 250 (the draw about 128 of
/// it, the rest the path's arrays and guards), the kernel 158 and 54 of uniqueness checks (the
/// nested `k[0]`, `gs[0]`). With ``WienerRun`` (one component) and EM written out on the lent
/// workspaces 440; the plain steps in a function of their own 353; the run and counters in
/// locals and the finiteness test folded into the update 330; the new state copied instead of
/// the arrays rotated (no uniqueness check left in the loop) 316; the run for any number of
/// components, one plain loop per kind of draw, 304, of which the Philox block and the
/// Box–Muller transform are about 120 and the user's drift and diffusion about 50. 4-D
/// 1,325 -> 1,154 with the lent workspaces, 877 with the run and the plain steps (its four
/// normals, two Philox blocks and transforms, about 550). EulerHeun 1,075 -> 1,013 and RKMil
/// 834 -> 774 (the run's draw). Then 252 scalar and 865 4-D: the plain steps count the steps
/// taken once for the three counters, one state with one Wiener process has its own loop in
/// straight-line code (no update and copy loops), and the run tests `t < ∞` after `t > time`
/// for `isFinite`. Path stream version 3's ziggurat normals: 234 scalar, 760 4-D.
@inlinable
func solveWithFixedSteps<F: SDEFunction, Driver: FixedStepNoise>(
    _ stepper: inout SDELoopStepper<F, Driver.Noise>, driver: Driver.Type, drift: ODEProblem<SDEDrift<F>>,
    setup: SolveSetup<F.Scalar>
) -> ODESolution<F.Scalar> {
    typealias Scalar = F.Scalar
    let f = drift.f
    let p = drift.p
    let t0 = setup.t0
    let t1 = stepper.t1
    let endSnap = stepper.endSnap
    var stats = SolverStats()
    var u = setup.u0
    // The loop's start: f at (t0, u0), counted (a user's f may count its calls).
    var du0 = u
    f.evaluate(into: &du0, u, p, t0)
    stats.nf += 1
    let dt = Swift.min(setup.dt ?? .nan, setup.dtmax)
    var saved = SavingRecorder<[Scalar]>(setup)
    var dense = PiecewisePolynomial<Scalar>(stateCount: setup.count)
    // The loop's initial room (`ODEIntegrator.initialStepCapacity`), so that the arrays grow
    // at the same steps.
    let capacity = 64
    if setup.dense { dense.reserveCapacity(steps: capacity, values: Swift.min(8 * capacity * setup.count, 4096)) }
    if setup.saveEverystep { saved.reserveCapacity(capacity + 1) }
    saved.start(at: t0, u)
    var uPrev = u
    var uNew = u
    let stops = setup.tstops
    var nextStop = 0
    var iterations = 0
    var t = t0
    var tPrev = t0
    // Constant for the methods taken here; read once (the property reads the whole kernel).
    let driftEvaluations = stepper.kernel.driftEvaluationsPerStep
    var retcode = ReturnCode.default
    var message: String?
    // The increments in locals (the stepper's arrays swapped out, and back at the end), so that
    // the noise and the kernel are not handed two parts of `stepper` at once.
    var dW: [Double] = []
    var dZ: [Double] = []
    swap(&dW, &stepper.dW)
    swap(&dZ, &stepper.dZ)
    defer {
        swap(&dW, &stepper.dW)
        swap(&dZ, &stepper.dZ)
    }
    // The noise's current time, followed here instead of read every step: by the protocol an
    // accepted proposal is the current time.
    var noiseTime = t0
    // A Wiener process lends its state (`FixedStepNoise.Run`); it is given back before the
    // process is read, and at the end.
    var run = Driver.beginRun(&stepper._noise)
    let oneComponent = stepper.kernel.wienerCount == 1
    defer { if let r = run { Driver.endRun(r, &stepper._noise) } }
    var drawn = 0.0
    // EM with diagonal, additive or scalar noise is written out here, on the stepper's drift
    // and diffusion workspaces lent as plain arrays (no nested-array access per step): the
    // same operations in the same order as `eulerMaruyamaStep`, so the same bits.
    let states = setup.count
    let emDiagonal: Bool, emScalar: Bool
    switch (stepper.kernel.kernel, stepper.kernel.noise) {
    case (.eulerMaruyama, .diagonal), (.eulerMaruyama, .additive): (emDiagonal, emScalar) = (true, false)
    case (.eulerMaruyama, .scalar): (emDiagonal, emScalar) = (false, true)
    default: (emDiagonal, emScalar) = (false, false)
    }
    let sde = stepper.kernel.f
    let kernelP = stepper.kernel.p
    var driftValues: [Scalar] = []
    var diffusionValues: [Scalar] = []
    var lent = emDiagonal || emScalar
    if lent {
        swap(&driftValues, &stepper.kernel.k[0])
        swap(&diffusionValues, &stepper.kernel.gs[0])
    }
    defer {
        if lent {
            swap(&driftValues, &stepper.kernel.k[0])
            swap(&diffusionValues, &stepper.kernel.gs[0])
        }
    }
    // EM on a run takes its plain steps in `plainEulerMaruyamaSteps`.
    let plainSteps = lent && !setup.saveEverystep && !setup.dense
    // The end of the solve after a step from `t` of size `h` that could not be taken.
    func fail(h: Double) {
        let (_, failure) = rejectAttempt(
            h: h, err: .nan, nonFinite: true, sawNonFinite: true, adaptive: false, controller: stepper.controller,
            order: stepper.controllerOrder, t: t, dtFloor: stepFloor(at: t, dtmin: setup.dtmin), stats: &stats)
        let (code, why) = failure ?? (.unstable, "f returned NaN or Inf")
        (retcode, message) = (code, why)
        if let better = stepper.explainFailure(code) {
            (retcode, message) = (better.code, better.message + " (the integrator stopped: \(why))")
        }
    }
    while true {
        if plainSteps && run != nil && noiseTime == t && stepper.failure == nil {
            let target = nextStop < stops.count ? stops[nextStop] : setup.t1
            if let h = plainEulerMaruyamaSteps(
                Driver.self, run: &run!, sde: sde, p: kernelP, drift: &driftValues, diffusion: &diffusionValues,
                u: &u, uNew: &uNew, dW: &dW, oneComponent: oneComponent, t: &t, tPrev: &tPrev, stats: &stats,
                iterations: &iterations, dt: dt, target: target, t1: t1, endSnap: endSnap,
                saveLimit: saved.pendingTime(upTo: .infinity) ?? .infinity, maxiters: setup.maxiters,
                driftEvaluations: driftEvaluations)
            {
                swap(&driftValues, &stepper.kernel.k[0])
                swap(&diffusionValues, &stepper.kernel.gs[0])
                lent = false
                if let bad = stepper.kernel.nonFiniteSource(uNew) {
                    stepper.failure = "\(bad) returned NaN or Inf near t = \(t) and reducing dt did not avoid it"
                }
                fail(h: h)
                break
            }
            noiseTime = t
        }
        if iterations >= setup.maxiters {
            (retcode, message) = (.maxIters, "reached maxiters = \(setup.maxiters) at t = \(t): raise SolveOptions.maxiters to go on")
            break
        }
        let target = nextStop < stops.count ? stops[nextStop] : setup.t1
        let (h, landing) = clippedStep(from: t, dt: dt, toward: target, direction: 1, steps: stats.naccept)
        iterations += 1
        // The stepper's `attempt`. `failure` is tested before it is cleared, as there: the
        // common path stores nothing.
        if stepper.failure != nil { stepper.failure = nil }
        if noiseTime != t && Swift.abs(noiseTime - t) > 4 * Swift.max(Swift.abs(t), Swift.abs(t1)).ulp {
            if let r = run { Driver.endRun(r, &stepper._noise) }
            stepper.moveNoise(to: t)
            noiseTime = stepper._noise.currentTime
            run = Driver.beginRun(&stepper._noise)
        }
        var end = t + h
        if Swift.abs(end - t1) <= endSnap { end = t1 }
        var finite = true
        var fromRun = false
        if run != nil {
            if oneComponent, let d = Driver.advance(&run!, to: end) {
                drawn = d
                fromRun = true
            } else if !oneComponent && Driver.advance(&run!, to: end, &dW) {
                fromRun = true
            }
            if !fromRun {
                // `propose` below reports why.
                Driver.endRun(run!, &stepper._noise)
                run = nil
            }
        }
        if !fromRun {
            do {
                try Driver.propose(&stepper._noise, to: end, &dW, &dZ)
            } catch {
                stepper.failure = "the noise process could not give the increment to t = \(end): \(error)"
                finite = false
            }
        }
        if finite && lent {
            let ts = Scalar(t)
            sde.drift(&driftValues, u, kernelP, ts)
            sde.diffusion(&diffusionValues, u, kernelP, ts)
            if emScalar {
                let s = 1 * (fromRun ? drawn : dW[0])
                for i in 0..<states {
                    var x = u[i]
                    x += driftValues[i].scaled(by: h)
                    x += diffusionValues[i].scaled(by: s)
                    uNew[i] = x
                }
            } else if fromRun && oneComponent {
                // One component: one state.
                var x = u[0]
                x += driftValues[0].scaled(by: h)
                x += diffusionValues[0].scaled(by: 1 * drawn)
                uNew[0] = x
            } else {
                for i in 0..<states {
                    var x = u[i]
                    x += driftValues[i].scaled(by: h)
                    x += diffusionValues[i].scaled(by: 1 * dW[i])
                    uNew[i] = x
                }
            }
            stats.nf += driftEvaluations
            if !uNew.isFiniteState {
                finite = false
                swap(&driftValues, &stepper.kernel.k[0])
                swap(&diffusionValues, &stepper.kernel.gs[0])
                lent = false
                if let bad = stepper.kernel.nonFiniteSource(uNew) {
                    stepper.failure = "\(bad) returned NaN or Inf near t = \(t) and reducing dt did not avoid it"
                }
            }
        } else if finite {
            if fromRun && oneComponent { dW[0] = drawn }
            for i in uNew.indices { uNew[i] = u[i] }
            do {
                try stepper.kernel.step(&uNew, t: t, dt: h, dW: dW, dZ: dZ)
                stats.nf += driftEvaluations
                if !uNew.isFiniteState {
                    finite = false
                    if let bad = stepper.kernel.nonFiniteSource(uNew) {
                        stepper.failure = "\(bad) returned NaN or Inf near t = \(t) and reducing dt did not avoid it"
                    }
                }
            } catch {
                stepper.failure = "the step failed: \(error)"
                finite = false
            }
        }
        guard finite else {
            fail(h: h)
            break
        }
        // The loop's acceptance.
        stats.naccept += 1
        tPrev = t
        t = landing ? target : t + h
        swap(&uPrev, &u)
        swap(&u, &uNew)
        if stepper.failure != nil { stepper.failure = nil }
        if fromRun {
            noiseTime = end
        } else {
            do {
                try Driver.accept(&stepper._noise)
                noiseTime = end
            } catch {
                stepper.failure = "the noise process refused to accept the step: \(error)"
                noiseTime = stepper._noise.currentTime
            }
        }
        if landing && nextStop < stops.count { nextStop += 1 }
        // The loop's `recordStep`.
        while let s = saved.pendingTime(upTo: t) {
            if s == t {
                saved.savePending(u)
            } else {
                var out = u
                stepper.interpolate(f, p, theta: (s - tPrev) / h, t: tPrev, dt: h, u: uPrev, uNew: u, into: &out, stats: &stats)
                saved.savePending(out)
            }
        }
        saved.recordStepEnd(t, u)
        if setup.dense {
            stepper.appendDenseStep(f, p, t: tPrev, dt: h, end: t, u: uPrev, uNew: u, to: &dense, stats: &stats)
        }
        if landing && t == setup.t1 {
            retcode = .success
            break
        }
    }
    saved.finish(at: t, u, failed: !retcode.isSuccessful)
    return ODESolution(
        t: saved.times, u: saved.values, retcode: retcode, message: message, stats: stats, algorithm: stepper.name,
        denseOutput: setup.dense && !dense.isEmpty ? dense : nil)
}
