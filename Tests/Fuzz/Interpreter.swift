// Runs one case in this process and says how it ended. The parent process (Supervisor.swift)
// adds what a child cannot report itself: crashes, hangs and stray output.
import DiffEq
import SundialsBridge
import SensitivityCVODES

/// How a case ended, as the child reports it.
struct Outcome {
    enum Kind: String {
        /// A typed Swift error was thrown (DiffEqError, SensitivityError, InterpolationError).
        case threw
        /// A solution with a return code (the detail names it).
        case solution
        /// A finite gradient.
        case gradient
        /// Defect: `.success` (or a gradient) holding NaN or Inf.
        case nanSuccess = "nan-success"
        /// Defect: `.success` whose last saved time is not the end of the span.
        case earlySuccess = "early-success"
    }
    var kind: Kind
    var detail: String

    var isDefect: Bool { kind == .nanSuccess || kind == .earlySuccess }
}

enum Interpreter {
    static func run(_ c: FuzzCase) -> Outcome {
        let spec = c.problem
        let model = FuzzModel(kind: spec.kind, fault: spec.fault, span: spec.tspan, counter: CallCounter())
        switch c.mode {
        case .fixedSize(let a, let width, let ops):
            return width == 4
                ? runStatic(SIMD4<Double>(), model, spec, a, c.options, ops) : runStatic(StaticVector<8>(), model, spec, a, c.options, ops)
        case .fixedSizeModel(let a, let width, let state, let parameters, let fromArray, let gradient):
            let m = FuzzStaticModel(declaredState: state, declaredParameters: parameters)
            return width == 4
                ? runStaticModel(StaticVector<4>.self, m, spec, a, c.options, fromArray: fromArray, gradient: gradient)
                : runStaticModel(StaticVector<8>.self, m, spec, a, c.options, fromArray: fromArray, gradient: gradient)
        case .gradient(let s, let a, let loss, let parametersOnly):
            if spec.form == .closure {
                let prob = closureProblem(model, spec)
                return runGradient(prob, s, a, FuzzLoss(kind: loss), c.options, parametersOnly)
            }
            return runGradient(genericProblem(model, spec), s, a, FuzzLoss(kind: loss), c.options, parametersOnly)
        case .solve(let a):
            return spec.form == .generic
                ? runSolve(genericProblem(model, spec), a, c.options, c.queries) : runSolve(closureProblem(model, spec), a, c.options, c.queries)
        case .integrator(let a, let ops):
            return spec.form == .generic
                ? runIntegrator(genericProblem(model, spec), a, c.options, ops, c.queries)
                : runIntegrator(closureProblem(model, spec), a, c.options, ops, c.queries)
        }
    }

    // MARK: Problems

    static func genericProblem(_ m: FuzzModel, _ s: ProblemSpec) -> ODEProblem<GenericRHS<FuzzModel, Double>> {
        var prob = ODEProblem(model: m, u0: s.u0, tspan: s.tspan, p: s.p)
        prob.massMatrix = s.massMatrix
        prob.callbacks = callbacks(s.callbacks, span: s.tspan)
        return prob
    }

    static func closureProblem(_ m: FuzzModel, _ s: ProblemSpec) -> ODEProblem<ClosureRHS<Double>> {
        var prob = ODEProblem(f: { du, u, p, t in m.evaluate(&du, u, p, t) }, u0: s.u0, tspan: s.tspan, p: s.p)
        prob.massMatrix = s.massMatrix
        prob.callbacks = callbacks(s.callbacks, span: s.tspan)
        return prob
    }

    static func callbacks(_ specs: [CallbackSpec], span: (Double, Double)) -> CallbackSet<Double> {
        var set = CallbackSet<Double>()
        let forward = span.1 >= span.0
        for spec in specs {
            let affect: (inout EventContext<Double>) -> Void
            switch spec.affect {
            case .scale(let s): affect = { c in for i in c.u.indices { c.u[i] *= s } }
            case .set(let k, let v): affect = { c in if !c.u.isEmpty { c.u[k % c.u.count] = v } }
            case .resizeU(let n): affect = { c in c.u = [Double](repeating: 1, count: n) }
            case .resizeP(let n): affect = { c in c.p = [Double](repeating: 1, count: n) }
            case .scaleP(let s): affect = { c in c.p = c.p.map { $0 * s } }
            case .terminate: affect = { c in c.terminate() }
            case .nothing: affect = { _ in }
            }
            if spec.continuous {
                let condition: ContinuousCallback<Double>.Condition
                switch spec.condition {
                case .time(let tc): condition = { _, t, _ in t - tc }
                case .state(let k, let level): condition = { u, _, _ in u.isEmpty ? 1 : u[k % u.count] - level }
                case .nanAfter(let tc): condition = { _, t, _ in (forward ? t > tc : t < tc) ? .nan : -1 }
                }
                set.continuous.append(ContinuousCallback(condition: condition, affect: affect))
            } else {
                let condition: DiscreteCallback<Double>.Condition
                switch spec.condition {
                case .time(let tc), .nanAfter(let tc): condition = { _, t, _ in forward ? t > tc : t < tc }
                case .state(let k, let level): condition = { u, _, _ in !u.isEmpty && u[k % u.count] > level }
                }
                set.discrete.append(DiscreteCallback(condition: condition, affect: affect))
            }
        }
        return set
    }

    // MARK: Judging results

    /// Whether a success must have saved the end of the span: always, except with `saveat` times
    /// that leave it out (then only those times are saved, as in DifferentialEquations.jl).
    static func savesEnd(_ o: SolveOptions, span: (Double, Double)) -> Bool {
        if case .times(let times) = o.saveat { return times.contains(span.1) }
        return true
    }

    static func judge(_ sol: ODESolution<Double>, span: (Double, Double), queries: [Double], savesEnd: Bool) -> Outcome {
        let code = "\(sol.retcode)"
        if sol.retcode == .success {
            if let i = sol.u.firstIndex(where: { $0.contains { !$0.isFinite } }) {
                return Outcome(kind: .nanSuccess, detail: "u at t=\(sol.t[i]) is \(sol.u[i].prefix(4))")
            }
            if savesEnd, sol.t.last != span.1 {
                return Outcome(kind: .earlySuccess, detail: "last saved t=\(sol.t.last.map { "\($0)" } ?? "none"), span end \(span.1)")
            }
        }
        for q in queries {
            // A failed or partial solution must answer sol(t) with a value or a typed error.
            guard let v = try? sol(q) else { continue }
            let inside = Swift.min(span.0, span.1) <= q && q <= Swift.max(span.0, span.1)
            if sol.retcode == .success, inside, v.contains(where: { !$0.isFinite }) {
                return Outcome(kind: .nanSuccess, detail: "sol(\(q)) = \(v.prefix(4)) on a success")
            }
        }
        return Outcome(kind: .solution, detail: code + (sol.message == nil && sol.retcode != .success ? " (no message)" : ""))
    }

    static func threw(_ e: any Error) -> Outcome {
        let text = "\(e)"
        return Outcome(kind: .threw, detail: String(text.prefix(160)))
    }

    // MARK: solve

    static func runSolve<F: ODEFunction>(_ prob: ODEProblem<F>, _ a: Algorithm, _ o: SolveOptions, _ queries: [Double]) -> Outcome
    where F.Scalar == Double {
        switch dispatch(a, SolveVisitor(problem: prob, options: o)) {
        case .success(let sol):
            let span = prob.resolvedTimeSpan()
            return judge(sol, span: span, queries: queries, savesEnd: savesEnd(o, span: span))
        case .failure(let e): return threw(e)
        }
    }

    // MARK: Integrator

    static func runIntegrator<F: ODEFunction>(
        _ prob: ODEProblem<F>, _ a: Algorithm, _ o: SolveOptions, _ ops: [IntegratorOp], _ queries: [Double]
    ) -> Outcome where F.Scalar == Double {
        do {
            switch a {
            case .tsit5: var i = try Tsit5().makeIntegrator(prob, options: o); return try drive(&i, ops, queries, o)
            case .vern9: var i = try Vern9().makeIntegrator(prob, options: o); return try drive(&i, ops, queries, o)
            case .rk4: var i = try RK4().makeIntegrator(prob, options: o); return try drive(&i, ops, queries, o)
            case .dp5: var i = try DP5().makeIntegrator(prob, options: o); return try drive(&i, ops, queries, o)
            case .rosenbrock23: var i = try Rosenbrock23().makeIntegrator(prob, options: o); return try drive(&i, ops, queries, o)
            case .rodas5P: var i = try Rodas5P().makeIntegrator(prob, options: o); return try drive(&i, ops, queries, o)
            case .trbdf2(let n): var i = try TRBDF2(newton: n).makeIntegrator(prob, options: o); return try drive(&i, ops, queries, o)
            case .kenCarp4(let n): var i = try KenCarp4(newton: n).makeIntegrator(prob, options: o); return try drive(&i, ops, queries, o)
            case .kvaerno5(let n): var i = try Kvaerno5(newton: n).makeIntegrator(prob, options: o); return try drive(&i, ops, queries, o)
            default: var i = try AutoTsit5(Rosenbrock23()).makeIntegrator(prob, options: o); return try drive(&i, ops, queries, o)
            }
        } catch {
            return threw(error)
        }
    }

    static func edited(_ u: [Double], _ e: StateEdit) -> [Double] {
        switch e {
        case .scaled(let s): return u.map { $0 * s }
        case .nan(let k):
            var v = u
            if !v.isEmpty { v[k % v.count] = .nan }
            return v
        case .length(let n): return [Double](repeating: 1, count: n)
        }
    }

    static func drive<S: ODEStepper>(
        _ integ: inout ODEIntegrator<S>, _ ops: [IntegratorOp], _ queries: [Double], _ o: SolveOptions
    ) throws -> Outcome where S.Function: ODEFunction, S.Function.Scalar == Double {
        let span = integ.problem.resolvedTimeSpan()
        for op in ops {
            switch op {
            case .step(let count): for _ in 0..<count { _ = integ.step() }
            case .advance(let t): integ.advance(to: t)
            case .setU(let e): integ.u = edited(integ.u, e)
            case .setT(let t): integ.t = t
            case .setP(let s, let length): integ.p = length.map { [Double](repeating: 1, count: $0) } ?? integ.p.map { $0 * s }
            case .setDt(let h): integ.dt = h
            case .reinit(let u0, let t0): try integ.reinit(u0: u0.map { edited(integ.u, $0) }, t0: t0)
            case .interpolate(let t):
                let partial = integ.solution
                _ = try? partial(t)
            }
        }
        return judge(integ.solve(), span: span, queries: queries, savesEnd: savesEnd(o, span: span))
    }

    // MARK: Fixed-size form

    static func runStatic<State: StaticState>(
        _ zero: State, _ model: FuzzModel, _ spec: ProblemSpec, _ a: StaticAlgorithm, _ o: SolveOptions, _ ops: [IntegratorOp]?
    ) -> Outcome where State.Scalar == Double {
        let width = zero.scalarCount
        var u0 = zero
        for i in 0..<width { u0[i] = i < spec.u0.count ? spec.u0[i] : 0.5 }
        let prob = StaticODEProblem(
            f: { (u: State, p: [Double], t: Double) -> State in
                var du = [Double](repeating: 0, count: width)
                model.evaluate(&du, u.array, p, t)
                var out = zero
                for i in 0..<Swift.min(width, du.count) { out[i] = du[i] }
                return out
            }, u0: u0, tspan: spec.tspan, p: spec.p)
        let end = savesEnd(o, span: spec.tspan)
        do {
            if let ops {
                switch a {
                case .rosenbrock23: var i = try Rosenbrock23().makeIntegrator(prob, options: o); return try driveLoop(&i, ops, spec.tspan, end)
                case .rodas5P: var i = try Rodas5P().makeIntegrator(prob, options: o); return try driveLoop(&i, ops, spec.tspan, end)
                case .kenCarp4: var i = try KenCarp4().makeIntegrator(prob, options: o); return try driveLoop(&i, ops, spec.tspan, end)
                case .rk4: var i = try RK4().makeIntegrator(prob, options: o); return try driveLoop(&i, ops, spec.tspan, end)
                default: var i = try Tsit5().makeIntegrator(prob, options: o); return try driveLoop(&i, ops, spec.tspan, end)
                }
            }
            return judgeStatic(try solveStatic(prob, a, o), span: spec.tspan, savesEnd: end)
        } catch {
            return threw(error)
        }
    }

    static func solveStatic<F: StaticODEFunction>(_ prob: StaticODEProblem<F>, _ a: StaticAlgorithm, _ o: SolveOptions) throws(DiffEqError)
        -> StaticODESolution<F.State> where F.State.Scalar == Double
    {
        switch a {
        case .tsit5: return try solve(prob, Tsit5(), options: o)
        case .dp5: return try solve(prob, DP5(), options: o)
        case .vern9: return try solve(prob, Vern9(), options: o)
        case .rk4: return try solve(prob, RK4(), options: o)
        case .bs3: return try solve(prob, BS3(), options: o)
        case .rosenbrock23: return try solve(prob, Rosenbrock23(), options: o)
        case .rodas4: return try solve(prob, Rodas4(), options: o)
        case .rodas5P: return try solve(prob, Rodas5P(), options: o)
        case .trbdf2: return try solve(prob, TRBDF2(), options: o)
        case .kenCarp4: return try solve(prob, KenCarp4(), options: o)
        case .kvaerno5: return try solve(prob, Kvaerno5(), options: o)
        case .globalErrorControl(let base, let n):
            switch base {
            case .rodas5P: return try solve(prob, GlobalErrorControl(Rodas5P(), maxSolves: n), options: o)
            case .dp5: return try solve(prob, GlobalErrorControl(DP5(), maxSolves: n), options: o)
            default: return try solve(prob, GlobalErrorControl(Tsit5(), maxSolves: n), options: o)
            }
        }
    }

    static func judgeStatic<State: StaticState>(_ sol: StaticODESolution<State>, span: (Double, Double), savesEnd: Bool) -> Outcome where State.Scalar == Double {
        if sol.retcode == .success {
            if let i = sol.u.firstIndex(where: { !$0.isFiniteState }) {
                return Outcome(kind: .nanSuccess, detail: "u at t=\(sol.t[i]) is \(sol.u[i].array.prefix(4))")
            }
            if savesEnd, sol.t.last != span.1 {
                return Outcome(kind: .earlySuccess, detail: "last saved t=\(sol.t.last.map { "\($0)" } ?? "none"), span end \(span.1)")
            }
        }
        return Outcome(kind: .solution, detail: "\(sol.retcode)" + (sol.message == nil && sol.retcode != .success ? " (no message)" : ""))
    }

    /// A ``FuzzStaticModel`` problem of `N` components and two parameters (the drawn ones,
    /// padded with 1), solved or differentiated.
    static func runStaticModel<let N: Int>(
        _: StaticVector<N>.Type, _ model: FuzzStaticModel, _ spec: ProblemSpec, _ a: StaticAlgorithm, _ o: SolveOptions,
        fromArray: Bool, gradient: Bool
    ) -> Outcome {
        do {
            let u0 = fromArray
                ? try StaticVector<N>(components: spec.u0)
                : try StaticVector<N>(components: (0..<N).map { $0 < spec.u0.count ? spec.u0[$0] : 0.5 })
            let p = try StaticVector<2>(components: (0..<2).map { $0 < spec.p.count ? spec.p[$0] : 1 })
            let prob = StaticODEProblem(model: model, u0: u0, tspan: spec.tspan, p: p)
            if gradient {
                let loss = FuzzLoss(kind: .sumOfSquares)
                // The drawn algorithm's family on the fixed-size dual path (Tsit5 for the rest).
                let r: SensitivityResult
                switch a {
                case .rodas5P: r = try DiffEq.gradient(of: loss, prob, algorithm: Rodas5P(), options: o)
                case .trbdf2: r = try DiffEq.gradient(of: loss, prob, algorithm: TRBDF2(), options: o)
                case .kenCarp4: r = try DiffEq.gradient(of: loss, prob, algorithm: KenCarp4(), options: o)
                case .kvaerno5: r = try DiffEq.gradient(of: loss, prob, algorithm: Kvaerno5(), options: o)
                default: r = try DiffEq.gradient(of: loss, prob, algorithm: Tsit5(), options: o)
                }
                if !r.loss.isFinite || r.dp.contains(where: { !$0.isFinite }) || r.du0.contains(where: { !$0.isFinite }) {
                    return Outcome(kind: .nanSuccess, detail: "loss \(r.loss), dp \(r.dp.prefix(4)), du0 \(r.du0.prefix(4))")
                }
                return Outcome(kind: .gradient, detail: "\(r.dp.count + r.du0.count) entries")
            }
            return judgeStatic(try solveStatic(prob, a, o), span: spec.tspan, savesEnd: savesEnd(o, span: spec.tspan))
        } catch {
            return threw(error)
        }
    }

    /// Drives a fixed-size problem's integrator on the one loop (explicit RK and Rosenbrock
    /// methods), whose `u` setter restarts the method as for arrays.
    static func driveLoop<S: ODEStepper>(
        _ integ: inout ODEIntegrator<S>, _ ops: [IntegratorOp], _ span: (Double, Double), _ savesEnd: Bool
    ) throws -> Outcome where S.Function: StaticODEFunction, S.Scalar == Double {
        for op in ops {
            switch op {
            case .step(let count): for _ in 0..<count { _ = integ.step() }
            case .setDt(let h): integ.dt = h
            case .reinit(let e, _):
                var u = integ.u
                if let e {
                    let v = edited(u.array, e)
                    for i in 0..<Swift.min(v.count, u.scalarCount) { u[i] = v[i] }
                }
                try integ.reinit(u0: u)
            case .setU(let e):
                let v = edited(integ.u.array, e)
                var u = integ.u
                for i in 0..<Swift.min(v.count, u.scalarCount) { u[i] = v[i] }
                integ.u = u
            default: break
            }
        }
        return judgeStatic(integ.solve(), span: span, savesEnd: savesEnd)
    }

    // MARK: Gradients

    static func runGradient<F: ODEFunction>(
        _ prob: ODEProblem<F>, _ s: Sensealg, _ a: Algorithm, _ loss: FuzzLoss, _ o: SolveOptions, _ parametersOnly: Bool
    ) -> Outcome where F.Scalar == Double {
        let wrt: GradientInputs = parametersOnly ? .parameters : .parametersAndInitialState
        do {
            let r: SensitivityResult
            switch a {
            case .tsit5: r = try gradient(prob, s, Tsit5(), loss, o, wrt)
            case .rodas5P: r = try gradient(prob, s, Rodas5P(), loss, o, wrt)
            default: r = try gradient(prob, s, CVODE_BDF(), loss, o, wrt)
            }
            if !r.loss.isFinite || r.dp.contains(where: { !$0.isFinite }) || r.du0.contains(where: { !$0.isFinite }) {
                return Outcome(kind: .nanSuccess, detail: "loss \(r.loss), dp \(r.dp.prefix(4)), du0 \(r.du0.prefix(4))")
            }
            return Outcome(kind: .gradient, detail: "\(r.dp.count + r.du0.count) entries")
        } catch {
            return threw(error)
        }
    }

    static func gradient<F: ODEFunction, A: ODEAlgorithm>(
        _ prob: ODEProblem<F>, _ s: Sensealg, _ a: A, _ loss: FuzzLoss, _ o: SolveOptions, _ wrt: GradientInputs
    ) throws(SensitivityError) -> SensitivityResult where F.Scalar == Double {
        switch s {
        case .forwardDiff: return try DiffEq.gradient(of: loss, prob, algorithm: a, options: o, sensealg: ForwardDiffSensitivity(), wrt: wrt)
        case .forwardSensitivity: return try DiffEq.gradient(of: loss, prob, algorithm: a, options: o, sensealg: ForwardSensitivity(), wrt: wrt)
        case .interpolating(let c):
            return try DiffEq.gradient(of: loss, prob, algorithm: a, options: o, sensealg: InterpolatingAdjoint(checkpointing: c), wrt: wrt)
        case .quadrature: return try DiffEq.gradient(of: loss, prob, algorithm: a, options: o, sensealg: QuadratureAdjoint(), wrt: wrt)
        case .backsolve(let c, let d):
            return try DiffEq.gradient(
                of: loss, prob, algorithm: a, options: o, sensealg: BacksolveAdjoint(checkpointing: c, maxStateDrift: d), wrt: wrt)
        case .auto(let n):
            return try DiffEq.gradient(of: loss, prob, algorithm: a, options: o, sensealg: AutoSensitivity(forwardModeLimit: n), wrt: wrt)
        case .cvodesForward(let adams, let staggered, let ec, let q, let m):
            let s = CVODESForward(
                method: adams ? .adams : .bdf, corrector: staggered ? .staggered : .simultaneous, sensitivityErrorControl: ec,
                maxOrder: q, maxNumSteps: m)
            return try DiffEq.gradient(of: loss, prob, algorithm: a, options: o, sensealg: s, wrt: wrt)
        case .cvodesAdjoint(let adams, let nd, let poly, let qe, let q, let m):
            let s = CVODESAdjoint(
                method: adams ? .adams : .bdf, stepsBetweenCheckpoints: nd, interpolation: poly ? .polynomial : .hermite,
                quadratureErrorControl: qe, maxOrder: q, maxNumSteps: m)
            return try DiffEq.gradient(of: loss, prob, algorithm: a, options: o, sensealg: s, wrt: wrt)
        }
    }
}

// MARK: Dispatch over the array form's algorithms

/// A generic operation over any algorithm (Swift has no generic closures).
protocol AlgorithmVisitor {
    associatedtype Output
    func visit<A: ODEAlgorithm>(_ algorithm: A) -> Output
}

struct SolveVisitor<F: ODEFunction>: AlgorithmVisitor where F.Scalar == Double {
    let problem: ODEProblem<F>
    let options: SolveOptions
    func visit<A: ODEAlgorithm>(_ algorithm: A) -> Result<ODESolution<Double>, DiffEqError> {
        do { return .success(try solve(problem, algorithm, options: options)) } catch { return .failure(error) }
    }
}

/// Wraps the algorithm it is given in `GlobalErrorControl` before passing it on.
struct GlobalErrorControlVisitor<Inner: AlgorithmVisitor>: AlgorithmVisitor {
    let inner: Inner
    let maxSolves: Int, firstReduction: Double, target: Double, minimumReltol: Double, exponent: Double?
    func visit<A: ODEAlgorithm>(_ algorithm: A) -> Inner.Output {
        inner.visit(
            GlobalErrorControl(
                algorithm, maxSolves: maxSolves, firstReduction: firstReduction, target: target, minimumReltol: minimumReltol,
                exponent: exponent))
    }
}

func dispatch<V: AlgorithmVisitor>(_ a: Algorithm, _ v: V) -> V.Output {
    switch a {
    case .euler: return v.visit(Euler())
    case .midpoint: return v.visit(Midpoint())
    case .heun: return v.visit(Heun())
    case .rk4: return v.visit(RK4())
    case .bs3: return v.visit(BS3())
    case .dp5: return v.visit(DP5())
    case .tsit5: return v.visit(Tsit5())
    case .vern6: return v.visit(Vern6())
    case .vern7: return v.visit(Vern7())
    case .vern8: return v.visit(Vern8())
    case .vern9: return v.visit(Vern9())
    case .dp8: return v.visit(DP8())
    case .rosenbrock23(let fd): return v.visit(Rosenbrock23(jacobian: fd ? .finiteDifferences : .automatic))
    case .rodas4(let fd): return v.visit(Rodas4(jacobian: fd ? .finiteDifferences : .automatic))
    case .rodas5P(let fd): return v.visit(Rodas5P(jacobian: fd ? .finiteDifferences : .automatic))
    case .trbdf2(let n): return v.visit(TRBDF2(newton: n))
    case .kenCarp4(let n): return v.visit(KenCarp4(newton: n))
    case .kvaerno5(let n): return v.visit(Kvaerno5(newton: n))
    case .autoTsit5: return v.visit(AutoTsit5(Rosenbrock23()))
    case .autoVern7: return v.visit(AutoVern7(Rodas5P()))
    case .cvodeAdams(let q, let m, let newton):
        return v.visit(CVODE_Adams(maxOrder: q, maxNumSteps: m, nonlinearSolver: newton ? .newton : .fixedPoint))
    case .cvodeBDF(let q, let m, let fp, let sld):
        return v.visit(
            CVODE_BDF(maxOrder: q, maxNumSteps: m, nonlinearSolver: fp ? .fixedPoint : .newton, stabilityLimitDetection: sld))
    case .globalErrorControl(let base, let n, let r, let target, let minTol, let e):
        return dispatch(
            base,
            GlobalErrorControlVisitor(inner: v, maxSolves: n, firstReduction: r, target: target, minimumReltol: minTol, exponent: e))
    }
}
