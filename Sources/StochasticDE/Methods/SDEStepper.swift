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
/// stepper.step(&u, t: t, dt: h, dW: dW, dZ: dZ)   // the loop decides, then:
/// try noise.accept(); t += h
/// ```
///
/// The adaptive `solve` (step-size control from ``driftErrorTerm``/``diffusionErrorTerm``,
/// saving, callbacks, return codes) belongs to the shared integrator loop of issue #15 and is not
/// written here; the tests drive fixed steps with the loop above.
///
/// Performance: workspaces (stage values, iterated-integral factors) are allocated once in the
/// initializer; ``step(_:t:dt:dW:dZ:)`` allocates nothing. The scheme is a closed enum, switched
/// once per step. Stage states are formed in one scratch array, since `H⁽⁰⁾ᵢ`, `H⁽¹⁾ᵢ` are only
/// needed to evaluate `fᵢ`, `gᵢ`.
public struct SDEStepper<F: SDEFunction> {
    public typealias Scalar = F.Scalar
    public let f: F
    public var p: [Scalar]
    public let scheme: SDEScheme
    public let noise: NoiseKind
    public let stateCount: Int
    public let wienerCount: Int
    @usableFromInline let diffusionLength: Int
    @usableFromInline var k: [[Scalar]]
    @usableFromInline var gs: [[Scalar]]
    @usableFromInline var scratch: [Scalar]
    @usableFromInline var chi1: [Double]
    @usableFromInline var chi2: [Double]
    @usableFromInline var chi3: [Double]
    @usableFromInline var errorDrift: [Scalar]
    @usableFromInline var errorDiffusion: [Scalar]
    /// `E₁` of the last step (SRI/SRA; empty for the others): the drift part of the embedded
    /// error estimate.
    public var driftErrorTerm: [Scalar] { errorDrift }
    /// `E₂` of the last step (SRI/SRA; empty for the others): the diffusion part.
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
        case .eulerMaruyama: stages = 1
        case .eulerHeun, .rkMil(.ito): stages = 2
        case .rkMil(.stratonovich): stages = 3
        case .sri(let tab): stages = tab.stages
        case .sra(let tab): stages = tab.stages
        }
        k = [[Scalar]](repeating: [Scalar](repeating: .zero, count: n), count: stages)
        gs = [[Scalar]](repeating: [Scalar](repeating: .zero, count: diffusionLength), count: stages)
        scratch = [Scalar](repeating: .zero, count: n)
        chi1 = [Double](repeating: 0, count: m)
        chi2 = [Double](repeating: 0, count: m)
        chi3 = [Double](repeating: 0, count: m)
        errorDrift = scheme.hasErrorEstimate ? [Scalar](repeating: .zero, count: n) : []
        errorDiffusion = scheme.hasErrorEstimate ? [Scalar](repeating: .zero, count: n) : []
    }

    /// Whether ``step(_:t:dt:dW:dZ:)`` reads `dZ`; the noise process must then have the
    /// auxiliary process.
    @inlinable public var needsAuxiliaryIncrement: Bool { scheme.needsAuxiliaryIncrement }

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
    @inlinable
    public mutating func step(_ u: inout [Scalar], t: Double, dt: Double, dW: [Double], dZ: [Double]) {
        switch scheme {
        case .eulerMaruyama: eulerMaruyamaStep(&u, t: t, dt: dt, dW: dW)
        case .eulerHeun: eulerHeunStep(&u, t: t, dt: dt, dW: dW)
        case .rkMil(let interpretation): rkMilStep(&u, t: t, dt: dt, dW: dW, interpretation: interpretation)
        case .sri(let tab): sriStep(&u, t: t, dt: dt, dW: dW, dZ: dZ, tableau: tab)
        case .sra(let tab): sraStep(&u, t: t, dt: dt, dW: dW, dZ: dZ, tableau: tab)
        }
    }

    /// `x += scale · G v`, `G` the noise-rate matrix in `g` for this noise kind.
    @inlinable
    func addNoise(_ x: inout [Scalar], _ g: [Scalar], _ v: [Double], scale: Double) {
        let n = stateCount
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

    /// Index of the Wiener process driving component `i` (diagonal and scalar noise).
    @inlinable
    func wienerIndex(_ i: Int) -> Int { noise == .scalar ? 0 : i }
}
