import DiffEqCore

/// The steps of ``solveWithFixedSteps(_:driver:drift:setup:)`` that need nothing of the loop but
/// the step itself, for EM with scalar, diagonal or additive noise on a ``WienerRun``
/// (`oneComponent`: one Wiener process, else one per state, the increments in `dW`): a full
/// step `dt` that lands on no stop, does not end near `t1` and passes no `saveat` time
/// (`saveLimit`: the next one, or +∞), with nothing saved per step and no dense output. Each
/// step is the loop's, bit for bit: `clippedStep`, the run's draw, EM's update (`u + f h + g ΔW`,
/// in `eulerMaruyamaStep`'s order), the statistics and `t + h`.
///
/// Returns `nil` at the first step that is not of that kind (nothing done for it: the loop takes
/// it), or `h` when a step was not finite: its increment is drawn, its result is in `uNew` and
/// `iterations` and `nf` are counted, `t`, `u` and `naccept` are those before it, and the loop
/// ends the solve. The loop's `uPrev` is not kept, nor `uNew` after an accepted step: its next
/// step sets them before reading them.
///
/// Performance: a function of its own, not inlined into the loop, so that its few live values
/// stay in registers (the loop's `stats`, `t` and state arrays spilled on every step). Every
/// plain step counts one iteration, one accepted step and `driftEvaluations` evaluations, so one
/// count of the steps taken stands for the three counters until the return. One state with one
/// Wiener process (the scalar SDE) has a loop of its own in straight-line code: the update and
/// copy loops' setup for an unknown length was most of its bookkeeping. Measured and rejected
/// (sde-bench `em-scalar+solve`, callgrind): stepping the caller's `run` instead of the local
/// copy, 267 instructions per step against 252 (the copy's fields are still stored on every
/// step: its outlined copy takes its address; `consume` of the `inout` is refused); the five
/// arrays moved into locals for the call, 307.
@inlinable @inline(never)
func plainEulerMaruyamaSteps<F: SDEFunction, Driver: FixedStepNoise>(
    _ driver: Driver.Type, run: inout Driver.Run, sde: F, p: [F.Scalar], drift: inout [F.Scalar],
    diffusion: inout [F.Scalar], u: inout [F.Scalar], uNew: inout [F.Scalar], dW: inout [Double], oneComponent: Bool,
    t: inout Double, tPrev: inout Double, stats: inout SolverStats, iterations: inout Int, dt: Double,
    target: Double, t1: Double, endSnap: Double, saveLimit: Double, maxiters: Int, driftEvaluations: Int
) -> Double? {
    typealias Scalar = F.Scalar
    let states = u.count
    // The time and the run in locals (registers), written back on return, and the steps taken:
    // accepted ones in `taken`, plus the last when its result was not finite (`failed`).
    var time = t
    var previous = tPrev
    var taken = 0
    var failed = false
    var cursor = run
    // `maxiters` is positive and `iterations` at most it: no overflow.
    let stepsLeft = maxiters - iterations
    let naccept = stats.naccept
    defer {
        t = time
        tPrev = previous
        let counted = failed ? taken + 1 : taken
        stats.naccept = naccept + taken
        stats.nf += counted * driftEvaluations
        iterations += counted
        run = cursor
    }
    // The step from `time` when it is plain: its size and end.
    @inline(__always) func plainStep() -> (h: Double, end: Double)? {
        guard taken < stepsLeft else { return nil }
        // `naccept + taken` is below `maxiters`: no overflow check (which kept the sum out of
        // the rare branch of `clippedStep` that reads it).
        let (h, landing) = clippedStep(from: time, dt: dt, toward: target, direction: 1, steps: naccept &+ taken)
        let end = time + h
        guard !landing, end < saveLimit, Swift.abs(end - t1) > endSnap else { return nil }
        return (h, end)
    }
    @inline(__always) func evaluate() {
        let ts = Scalar(time)
        sde.drift(&drift, u, p, ts)
        sde.diffusion(&diffusion, u, p, ts)
    }
    @inline(__always) func accept(_ end: Double) {
        taken += 1
        previous = time
        time = end
        // Copied rather than swapped, so that the arrays written in the loop stay the same
        // buffers and their uniqueness checks leave the loop.
        for i in 0..<states { u[i] = uNew[i] }
    }
    // One loop per kind of draw (a test inside one loop kept the arrays' uniqueness checks in
    // it); `uNew.isFiniteState` is folded into the update.
    if oneComponent && states == 1 {
        // The scalar SDE: the new state goes straight to `u`, and to `uNew` only when it ends
        // the solve.
        while let (h, end) = plainStep() {
            guard let w = Driver.advance(&cursor, to: end) else { return nil }
            evaluate()
            var x = u[0]
            x += drift[0].scaled(by: h)
            x += diffusion[0].scaled(by: 1 * w)
            guard x.isFiniteScalar else {
                uNew[0] = x
                failed = true
                return h
            }
            u[0] = x
            taken += 1
            previous = time
            time = end
        }
    } else if oneComponent {
        // Scalar noise on several states.
        while let (h, end) = plainStep() {
            guard let w = Driver.advance(&cursor, to: end) else { return nil }
            evaluate()
            let s = 1 * w
            var finite = true
            for i in 0..<states {
                var x = u[i]
                x += drift[i].scaled(by: h)
                x += diffusion[i].scaled(by: s)
                finite = finite && x.isFiniteScalar
                uNew[i] = x
            }
            if !finite {
                failed = true
                return h
            }
            accept(end)
        }
    } else {
        // Diagonal or additive noise, one Wiener process per state.
        while let (h, end) = plainStep() {
            guard Driver.advance(&cursor, to: end, &dW) else { return nil }
            evaluate()
            var finite = true
            for i in 0..<states {
                var x = u[i]
                x += drift[i].scaled(by: h)
                x += diffusion[i].scaled(by: 1 * dW[i])
                finite = finite && x.isFiniteScalar
                uNew[i] = x
            }
            if !finite {
                failed = true
                return h
            }
            accept(end)
        }
    }
    return nil
}
