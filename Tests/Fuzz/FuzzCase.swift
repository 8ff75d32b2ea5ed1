// What one fuzz case is: a small description, drawn from the case's random stream and then
// interpreted by `Interpreter.swift` (no code is generated per case, so the fuzzer compiles once).
import DiffEq
import SundialsBridge
import SensitivityCVODES

/// The right-hand sides the fuzzer draws from. Each uses `p` (so gradients have something to
/// differentiate) and works for any state length.
enum ProblemKind: String, CaseIterable {
    /// `u' = -p0 u`: linear, non-stiff.
    case decay
    /// A diffusion chain `u'_i = p0 (u_{i-1} - 2 u_i + u_{i+1}) - p1 u_i`: linear, stiff for large p0.
    case diffusion
    /// Lotka-Volterra pairs (a logistic equation for an odd last component): nonlinear.
    case lotka
    /// Van der Pol pairs with stiffness `p0` (`u' = -u^3` for an odd last component).
    case vanDerPol
    /// ROBER on the first three components (Robertson's rate constants in p), decay on the rest.
    case rober
    /// `u' = p0 u^2`: blows up in finite time for positive `u0`.
    case blowup
    /// `u'_i = -p0 10^(i mod 7) (u_i - cos t)`: stiff, forced.
    case stiffLinear
    /// A skew-symmetric ring `u'_i = p0 (u_{i+1} - u_{i-1})`: purely oscillatory.
    case oscillator
}

/// Bad values the right-hand side writes.
enum Fault: CustomStringConvertible {
    case none
    /// `du[k] = NaN` (or `+/-Inf`) once t is past `fraction` of the span.
    case after(fraction: Double, component: Int, value: Double)
    /// `du[k] = NaN` at the `n`-th call only.
    case atCall(Int, component: Int)
    /// `du` replaced by an array of another length past `fraction` of the span (a user bug).
    case resize(fraction: Double, length: Int)

    var description: String {
        switch self {
        case .none: return "none"
        case .after(let f, let k, let v): return "du[\(k)]=\(v)@\(f)span"
        case .atCall(let n, let k): return "du[\(k)]=nan@call\(n)"
        case .resize(let f, let len): return "du.count=\(len)@\(f)span"
        }
    }
}

enum Form: String { case generic, closure }

enum CallbackCondition: CustomStringConvertible {
    case time(Double), state(component: Int, level: Double), nanAfter(Double)
    var description: String {
        switch self {
        case .time(let t): return "t-\(t)"
        case .state(let k, let l): return "u[\(k)]-\(l)"
        case .nanAfter(let t): return "nan after \(t)"
        }
    }
}

enum CallbackAffect: CustomStringConvertible {
    case scale(Double), set(component: Int, value: Double), resizeU(Int), resizeP(Int), scaleP(Double), terminate, nothing
    var description: String {
        switch self {
        case .scale(let s): return "u*=\(s)"
        case .set(let k, let v): return "u[\(k)]=\(v)"
        case .resizeU(let n): return "u.count=\(n)"
        case .resizeP(let n): return "p.count=\(n)"
        case .scaleP(let s): return "p*=\(s)"
        case .terminate: return "terminate"
        case .nothing: return "nothing"
        }
    }
}

struct CallbackSpec: CustomStringConvertible {
    var continuous: Bool
    var condition: CallbackCondition
    var affect: CallbackAffect
    var description: String { "\(continuous ? "continuous" : "discrete")(\(condition); \(affect))" }
}

struct ProblemSpec {
    var kind: ProblemKind
    var form: Form
    var u0: [Double]
    var p: [Double]
    var tspan: (Double, Double)
    var fault: Fault
    var massMatrix: [Double]?
    var callbacks: [CallbackSpec]
}

/// Every algorithm of the array form, with the settings the fuzzer varies.
indirect enum Algorithm: CustomStringConvertible {
    case euler, midpoint, heun, rk4, bs3, dp5, tsit5, vern6, vern7, vern8, vern9, dp8
    case rosenbrock23(finiteDifferences: Bool), rodas4(finiteDifferences: Bool), rodas5P(finiteDifferences: Bool)
    case trbdf2(SDIRKNewtonOptions), kenCarp4(SDIRKNewtonOptions), kvaerno5(SDIRKNewtonOptions)
    case autoTsit5, autoVern7
    case cvodeAdams(maxOrder: Int, maxNumSteps: Int?, newton: Bool)
    case cvodeBDF(maxOrder: Int, maxNumSteps: Int?, fixedPoint: Bool, stabilityLimitDetection: Bool)
    case globalErrorControl(Algorithm, maxSolves: Int, firstReduction: Double, target: Double, minimumReltol: Double, exponent: Double?)

    var description: String {
        switch self {
        case .euler: return "Euler"
        case .midpoint: return "Midpoint"
        case .heun: return "Heun"
        case .rk4: return "RK4"
        case .bs3: return "BS3"
        case .dp5: return "DP5"
        case .tsit5: return "Tsit5"
        case .vern6: return "Vern6"
        case .vern7: return "Vern7"
        case .vern8: return "Vern8"
        case .vern9: return "Vern9"
        case .dp8: return "DP8"
        case .rosenbrock23(let fd): return "Rosenbrock23\(fd ? "(fd)" : "")"
        case .rodas4(let fd): return "Rodas4\(fd ? "(fd)" : "")"
        case .rodas5P(let fd): return "Rodas5P\(fd ? "(fd)" : "")"
        case .trbdf2(let n): return "TRBDF2(\(newtonText(n)))"
        case .kenCarp4(let n): return "KenCarp4(\(newtonText(n)))"
        case .kvaerno5(let n): return "Kvaerno5(\(newtonText(n)))"
        case .autoTsit5: return "AutoTsit5(Rosenbrock23)"
        case .autoVern7: return "AutoVern7(Rodas5P)"
        case .cvodeAdams(let q, let m, let newton):
            return "CVODE_Adams(maxOrder: \(q), maxNumSteps: \(m.map(String.init) ?? "nil")\(newton ? ", newton" : ""))"
        case .cvodeBDF(let q, let m, let fp, let sld):
            return "CVODE_BDF(maxOrder: \(q), maxNumSteps: \(m.map(String.init) ?? "nil")\(fp ? ", fixedPoint" : "")\(sld ? ", SLD" : ""))"
        case .globalErrorControl(let base, let n, let r, let target, let minTol, let e):
            return "GlobalErrorControl(\(base), maxSolves: \(n), firstReduction: \(r), target: \(target), minimumReltol: \(minTol), exponent: \(e.map { "\($0)" } ?? "nil"))"
        }
    }

    /// Whether the method needs `dt` (no error estimate).
    var isFixedStep: Bool {
        switch self {
        case .euler, .midpoint, .heun, .rk4: return true
        default: return false
        }
    }
}

private func newtonText(_ n: SDIRKNewtonOptions) -> String {
    n == SDIRKNewtonOptions() ? "" :
        "kappa: \(n.kappa), maxIterations: \(n.maxIterations), slow: \(n.slowConvergenceRate), refactor: \(n.refactorThreshold)"
}

/// The fixed-size form's algorithms.
indirect enum StaticAlgorithm: CustomStringConvertible {
    case tsit5, dp5, vern9, rk4, bs3, rosenbrock23, rodas4, rodas5P, trbdf2, kenCarp4, kvaerno5
    case globalErrorControl(StaticAlgorithm, maxSolves: Int)
    var description: String {
        switch self {
        case .tsit5: return "Tsit5"
        case .dp5: return "DP5"
        case .vern9: return "Vern9"
        case .rk4: return "RK4"
        case .bs3: return "BS3"
        case .rosenbrock23: return "Rosenbrock23"
        case .rodas4: return "Rodas4"
        case .rodas5P: return "Rodas5P"
        case .trbdf2: return "TRBDF2"
        case .kenCarp4: return "KenCarp4"
        case .kvaerno5: return "Kvaerno5"
        case .globalErrorControl(let b, let n): return "GlobalErrorControl(\(b), maxSolves: \(n))"
        }
    }

    /// The method of a fixed-size model's forward-mode gradient (`Interpreter.runStaticModel`):
    /// the drawn one for Rodas5P and the SDIRK methods, else Tsit5.
    var gradientMethod: String {
        switch self {
        case .rodas5P, .trbdf2, .kenCarp4, .kvaerno5: return description
        default: return "Tsit5"
        }
    }
}

/// One use of the step-by-step interface.
enum IntegratorOp: CustomStringConvertible {
    case step(count: Int)
    case advance(to: Double)
    case setU(StateEdit)
    case setT(Double)
    case setP(scale: Double, length: Int?)
    case setDt(Double)
    case reinit(u0: StateEdit?, t0: Double?)
    case interpolate(Double)

    var description: String {
        switch self {
        case .step(let n): return "step×\(n)"
        case .advance(let t): return "advance(to: \(t))"
        case .setU(let e): return "u = \(e)"
        case .setT(let t): return "t = \(t)"
        case .setP(let s, let n): return "p = p*\(s)\(n.map { " (length \($0))" } ?? "")"
        case .setDt(let h): return "dt = \(h)"
        case .reinit(let u, let t): return "reinit(u0: \(u.map { "\($0)" } ?? "nil"), t0: \(t.map { "\($0)" } ?? "nil"))"
        case .interpolate(let t): return "sol(\(t))"
        }
    }
}

/// A new state derived from the current one.
enum StateEdit: CustomStringConvertible {
    case scaled(Double), nan(component: Int), length(Int)
    var description: String {
        switch self {
        case .scaled(let s): return "u*\(s)"
        case .nan(let k): return "u with u[\(k)]=nan"
        case .length(let n): return "length \(n)"
        }
    }
}

enum Sensealg: CustomStringConvertible {
    case forwardDiff, forwardSensitivity
    case interpolating(checkpointing: Bool)
    case quadrature
    case backsolve(checkpointing: Bool, maxStateDrift: Double)
    case auto(forwardModeLimit: Int)
    case cvodesForward(adams: Bool, staggered: Bool, errorControl: Bool, maxOrder: Int?, maxNumSteps: Int?)
    case cvodesAdjoint(
        adams: Bool, stepsBetweenCheckpoints: Int, polynomial: Bool, quadratureErrorControl: Bool, maxOrder: Int?, maxNumSteps: Int?)

    var description: String {
        switch self {
        case .forwardDiff: return "ForwardDiffSensitivity"
        case .forwardSensitivity: return "ForwardSensitivity"
        case .interpolating(let c): return "InterpolatingAdjoint(checkpointing: \(c))"
        case .quadrature: return "QuadratureAdjoint"
        case .backsolve(let c, let d): return "BacksolveAdjoint(checkpointing: \(c), maxStateDrift: \(d))"
        case .auto(let n): return "AutoSensitivity(forwardModeLimit: \(n))"
        case .cvodesForward(let a, let s, let e, let q, let m):
            return "CVODESForward(method: .\(a ? "adams" : "bdf"), corrector: .\(s ? "staggered" : "simultaneous"), sensitivityErrorControl: \(e), maxOrder: \(q.map(String.init) ?? "nil"), maxNumSteps: \(m.map(String.init) ?? "nil"))"
        case .cvodesAdjoint(let a, let nd, let poly, let qe, let q, let m):
            return "CVODESAdjoint(method: .\(a ? "adams" : "bdf"), stepsBetweenCheckpoints: \(nd), interpolation: .\(poly ? "polynomial" : "hermite"), quadratureErrorControl: \(qe), maxOrder: \(q.map(String.init) ?? "nil"), maxNumSteps: \(m.map(String.init) ?? "nil"))"
        }
    }
}

/// The loss of a gradient case.
enum LossKind: String, CaseIterable {
    /// Sum of squares of the observed states.
    case sumOfSquares
    /// The first component.
    case first
    /// `sqrt(u0 - 0.5)`: NaN (with an infinite derivative) where the state falls below 0.5.
    case sqrtShifted
}

enum Mode {
    case solve(Algorithm)
    case integrator(Algorithm, [IntegratorOp])
    /// The fixed-size form, with a state of `width` 4 (SIMD4) or 8 (StaticVector<8>).
    case fixedSize(StaticAlgorithm, width: Int, ops: [IntegratorOp]?)
    /// The fixed-size generic form: a ``FuzzStaticModel`` declaring `state` and `parameters`
    /// (`nil`: undeclared) on a problem of `width` components (4 or 8) and 2 parameters, its `u0`
    /// built from the drawn array by `init(components:)` when `fromArray` (throws unless the
    /// length is `width`), else padded; solved by the algorithm, or differentiated
    /// (`ForwardDiffSensitivity`, Tsit5) when `gradient`. Wrong sizes must throw, never trap.
    case fixedSizeModel(StaticAlgorithm, width: Int, state: Int?, parameters: Int?, fromArray: Bool, gradient: Bool)
    case gradient(Sensealg, algorithm: Algorithm, loss: LossKind, parametersOnly: Bool)
}

/// Options as drawn (a `SolveOptions` value plus a readable summary of the unusual ones).
struct FuzzCase {
    var seed: UInt64
    var index: UInt64
    var problem: ProblemSpec
    var options: SolveOptions
    var optionsText: [String]
    var mode: Mode
    /// Times at which the solution's dense output is evaluated afterwards.
    var queries: [Double]

    var reproducer: String { "fuzz --case \(seed):\(index)" }

    var summary: String {
        let modeText: String
        switch mode {
        case .solve(let a): modeText = "solve \(a)"
        case .integrator(let a, let ops): modeText = "integrator \(a) [\(ops.map(\.description).joined(separator: ", "))]"
        case .fixedSize(let a, let w, let ops):
            modeText = "fixed-size(\(w == 4 ? "SIMD4" : "StaticVector<8>")) \(a)\(ops.map { " integrator [\($0.map(\.description).joined(separator: ", "))]" } ?? "")"
        case .fixedSizeModel(let a, let w, let n, let np, let fromArray, let g):
            modeText = "fixed-size model(StaticVector<\(w)>, 2 parameters; declares state \(n.map(String.init) ?? "nil"), "
                + "parameters \(np.map(String.init) ?? "nil"))\(fromArray ? " u0 from array" : "") "
                + (g ? "gradient ForwardDiff \(a.gradientMethod)" : "\(a)")
        case .gradient(let s, let a, let l, let po): modeText = "gradient \(s) algorithm \(a) loss \(l.rawValue)\(po ? " wrt p" : "")"
        }
        let p = problem
        var parts = [
            modeText,
            "problem \(p.kind.rawValue) n=\(p.u0.count) \(p.form.rawValue) tspan=(\(p.tspan.0), \(p.tspan.1)) p=\(p.p)",
        ]
        if p.u0.contains(where: { !$0.isFinite }) { parts.append("u0=\(p.u0)") }
        if case .none = p.fault {} else { parts.append("fault \(p.fault)") }
        if let m = p.massMatrix { parts.append("mass(\(massText(m, n: p.u0.count)))") }
        if !p.callbacks.isEmpty { parts.append("callbacks \(p.callbacks.map(\.description).joined(separator: ", "))") }
        if !optionsText.isEmpty { parts.append("options \(optionsText.joined(separator: ", "))") }
        if !queries.isEmpty { parts.append("sol(t) at \(queries)") }
        return parts.joined(separator: " | ")
    }
}

private func massText(_ m: [Double], n: Int) -> String {
    if m.count != n * n { return "\(m.count) entries for n=\(n)" }
    if m.contains(where: { !$0.isFinite }) { return "non-finite entry" }
    let identity = (0..<n * n).allSatisfy { m[$0] == ($0 % (n + 1) == 0 ? 1 : 0) }
    if identity { return "identity" }
    let diagonal = (0..<n * n).allSatisfy { $0 % (n + 1) == 0 || m[$0] == 0 }
    let zeros = (0..<n).filter { m[$0 * (n + 1)] == 0 }.count
    return diagonal ? "diagonal, \(zeros) zero" : "full"
}
