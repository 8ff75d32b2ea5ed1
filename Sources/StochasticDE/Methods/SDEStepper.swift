import DiffEqCore

/// One step of an SDE method on a validated problem: the kernel an integrator loop calls.
///
/// ```swift
/// var stepper = try SDEStepper(problem: prob, algorithm: SOSRI())
/// var noise = try WienerProcess(dimension: prob.wienerCount, seed: 1, auxiliary: stepper.needsAuxiliaryIncrement)
/// var dW = [Double](repeating: 0, count: prob.wienerCount)
/// var dZ = [Double](repeating: 0, count: stepper.needsAuxiliaryIncrement ? prob.wienerCount : 0)
/// var u = prob.u0, t = prob.tspan.0
/// try noise.increment(to: t + h, &dW, &dZ)
/// try stepper.step(&u, t: t, dt: h, dW: dW, dZ: dZ)   // the loop decides, then:
/// try noise.accept(); t += h
/// ```
///
/// `solve` (step-size control from ``driftErrorTerm``/``diffusionErrorTerm``, saving,
/// callbacks, return codes) runs this kernel on the shared integrator loop through
/// ``SDELoopStepper``; the loop above is what that stepper does per attempt.
///
/// Performance: workspaces (stage values, iterated-integral factors) are allocated once in the
/// initializer; ``step(_:t:dt:dW:dZ:)`` allocates nothing. The step switches over a payload-free
/// kernel tag and reads the tableau from one flat coefficient array stored in the stepper:
/// switching over ``scheme`` itself (an enum whose SRI/SRA payloads hold arrays) made the
/// compiler copy the whole stepper on every step (an outlined copy plus ~40 retain/release
/// pairs), and so did calling a non-static helper on `self` from a mutating kernel; EM on scalar
/// GBM went from 1284 to 335 instructions per step (callgrind), 123 to 35 ns (sde-bench); EM's
/// drift and noise updates in one pass for diagonal and scalar noise took it to 259. Stage
/// states are formed in one scratch array, since `H⁽⁰⁾ᵢ`, `H⁽¹⁾ᵢ` are only needed to evaluate
/// `fᵢ`, `gᵢ`.
public struct SDEStepper<F: SDEFunction> {
    public typealias Scalar = F.Scalar
    public let f: F
    public var p: [Scalar]
    public let scheme: SDEScheme
    public let noise: NoiseKind
    public let stateCount: Int
    public let wienerCount: Int
    @usableFromInline let diffusionLength: Int
    @usableFromInline let kernel: Kernel
    /// ``needsAuxiliaryIncrement``, read once: the scheme's SRI/SRA payloads hold arrays, and
    /// switching over it per step retains them.
    @usableFromInline let readsAuxiliary: Bool
    /// The tableau, flattened (see `SRITableau.flattened`, `SRATableau.flattened`).
    @usableFromInline let coefficients: [Double]
    @usableFromInline let stages: Int
    @usableFromInline let errorDriftStages: Int
    @usableFromInline var k: [[Scalar]]
    @usableFromInline var gs: [[Scalar]]
    @usableFromInline var scratch: [Scalar]
    @usableFromInline var chi1: [Double]
    @usableFromInline var chi2: [Double]
    @usableFromInline var chi3: [Double]
    @usableFromInline var errorDrift: [Scalar]
    @usableFromInline var errorDiffusion: [Scalar]
    /// The drift-implicit methods' Newton workspace (empty for the explicit ones).
    @usableFromInline var newton: NewtonWorkspace<Scalar>
    /// `E₁` of the last step (the adaptive methods; empty for the others): the drift part of the
    /// embedded error estimate.
    public var driftErrorTerm: [Scalar] { errorDrift }
    /// `E₂` of the last step (the adaptive methods; empty for the others): the diffusion part.
    public var diffusionErrorTerm: [Scalar] { errorDiffusion }

    /// Validates `problem` for `algorithm` (``SDESetup``) and allocates the workspaces.
    public init(problem: SDEProblem<F>, algorithm: some SDEAlgorithm) throws(SDEError) {
        let scheme = algorithm.scheme
        try SDESetup.validate(problem, scheme)
        self.f = problem.f
        self.p = problem.p
        self.scheme = scheme
        self.noise = problem.noise
        let n = problem.u0.count
        let m = problem.wienerCount
        self.stateCount = n
        self.wienerCount = m
        self.diffusionLength = problem.noise.diffusionLength(states: n)
        let stages: Int
        switch scheme {
        case .eulerMaruyama:
            (kernel, stages, coefficients, errorDriftStages) = (.eulerMaruyama, 1, [], 0)
        case .lambaEM:
            (kernel, stages, coefficients, errorDriftStages) = (.lambaEM, 2, [], 0)
        case .implicitEM(let theta):
            (kernel, stages, coefficients, errorDriftStages) = (.implicitEM, 2, [theta], 0)
        case .eulerHeun:
            (kernel, stages, coefficients, errorDriftStages) = (.eulerHeun, 2, [], 0)
        case .rkMil(.ito):
            (kernel, stages, coefficients, errorDriftStages) = (.rkMilIto, 2, [], 0)
        case .rkMil(.stratonovich):
            (kernel, stages, coefficients, errorDriftStages) = (.rkMilStratonovich, 3, [], 0)
        case .sri(let tab):
            (kernel, stages, coefficients, errorDriftStages) = (.sri, tab.stages, tab.flattened, tab.errorDriftStages)
        case .sra(let tab):
            (kernel, stages, coefficients, errorDriftStages) = (.sra, tab.stages, tab.flattened, tab.stages)
        }
        self.stages = stages
        self.readsAuxiliary = scheme.needsAuxiliaryIncrement
        k = [[Scalar]](repeating: [Scalar](repeating: .zero, count: n), count: stages)
        gs = [[Scalar]](repeating: [Scalar](repeating: .zero, count: diffusionLength), count: stages)
        scratch = [Scalar](repeating: .zero, count: n)
        chi1 = [Double](repeating: 0, count: m)
        chi2 = [Double](repeating: 0, count: m)
        chi3 = [Double](repeating: 0, count: m)
        errorDrift = scheme.hasErrorEstimate ? [Scalar](repeating: .zero, count: n) : []
        errorDiffusion = scheme.hasErrorEstimate ? [Scalar](repeating: .zero, count: n) : []
        newton = NewtonWorkspace(count: kernel == .implicitEM ? n : 0)
    }

    /// Whether ``step(_:t:dt:dW:dZ:)`` reads `dZ`; the noise process must then have the
    /// auxiliary process.
    @inlinable public var needsAuxiliaryIncrement: Bool { readsAuxiliary }

    /// Checks that a noise process fits this stepper (before a solve).
    public func check(_ process: some NoiseProcess) throws(SDEError) {
        guard process.wienerCount == wienerCount else {
            throw .noiseMismatch("the problem has \(wienerCount) Wiener processes, the noise \(process.wienerCount)")
        }
        if needsAuxiliaryIncrement && !process.hasAuxiliary {
            throw .noiseMismatch("\(scheme.name) needs the auxiliary process Z for I(1,0): make the noise with `auxiliary: true`")
        }
    }

    /// Advances `u` from `t` over `dt` with the increments `dW` (length `m`) and, for
    /// ``needsAuxiliaryIncrement``, `dZ` (length `m`) of the noise over `[t, t + dt]`.
    /// Throws (before touching `u`) when an array has the wrong length.
    @inlinable
    public mutating func step(_ u: inout [Scalar], t: Double, dt: Double, dW: [Double], dZ: [Double]) throws(SDEError) {
        guard u.count == stateCount else { throw .wrongOutputLength(what: "state u", expected: stateCount, got: u.count) }
        guard dW.count == wienerCount else { throw .noiseMismatch("dW has \(dW.count) values, expected \(wienerCount)") }
        if readsAuxiliary && dZ.count != wienerCount {
            throw .noiseMismatch("\(scheme.name) needs dZ with \(wienerCount) values, got \(dZ.count)")
        }
        switch kernel {
        case .eulerMaruyama: eulerMaruyamaStep(&u, t: t, dt: dt, dW: dW)
        case .lambaEM: lambaEMStep(&u, t: t, dt: dt, dW: dW)
        case .implicitEM: implicitEMStep(&u, t: t, dt: dt, dW: dW)
        case .eulerHeun: eulerHeunStep(&u, t: t, dt: dt, dW: dW)
        case .rkMilIto: rkMilStep(&u, t: t, dt: dt, dW: dW, interpretation: .ito)
        case .rkMilStratonovich: rkMilStep(&u, t: t, dt: dt, dW: dW, interpretation: .stratonovich)
        case .sri: sriStep(&u, t: t, dt: dt, dW: dW, dZ: dZ)
        case .sra: sraStep(&u, t: t, dt: dt, dW: dW, dZ: dZ)
        }
    }

    /// The kernel to run, without the tableau payload (see the Performance note).
    @usableFromInline
    enum Kernel: Sendable {
        case eulerMaruyama, lambaEM, implicitEM, eulerHeun, rkMilIto, rkMilStratonovich, sri, sra

        /// The fixed-step methods whose only failure is a non-finite step: `solve` runs them in
        /// `solveWithFixedSteps` (ImplicitEM's Newton statistics and failures stay on the loop).
        @inlinable var runsOnFixedStepLoop: Bool {
            switch self {
            case .eulerMaruyama, .eulerHeun, .rkMilIto, .rkMilStratonovich: return true
            case .lambaEM, .implicitEM, .sri, .sra: return false
            }
        }
    }

    /// `x += scale · G v`, `G` the noise-rate matrix in `g` for this noise kind. Static, so a
    /// call from a mutating kernel does not copy the stepper to pass it as `self` (it did: an
    /// outlined copy of the whole stepper per call, measured with callgrind).
    @inlinable @inline(__always)
    static func addNoise(_ x: inout [Scalar], _ g: [Scalar], _ v: [Double], scale: Double, noise: NoiseKind, states n: Int) {
        switch noise {
        case .diagonal, .additive:
            for i in 0..<n { x[i] += g[i].scaled(by: scale * v[i]) }
        case .scalar:
            let s = scale * v[0]
            for i in 0..<n { x[i] += g[i].scaled(by: s) }
        case .general(let m):
            for j in 0..<m {
                let s = scale * v[j]
                for i in 0..<n { x[i] += g[i + j * n].scaled(by: s) }
            }
        }
    }
}
