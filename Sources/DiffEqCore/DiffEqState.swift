// The state protocol: what a method family needs of a state vector, after SUNDIALS' N_Vector
// (SUNDIALS documentation, "Vector Data Structures": a small set of required operations, fused
// operations with defaults that an implementation may override, one conformance test suite run
// against every implementation; `test/unit_tests/nvector/test_nvector.c`).
//
// Required: the length, access to a component by index and a zero state of the same shape.
// Everything a step does with whole states has a default written with those three, and each
// conforming type overrides what it can do faster (an array through its buffer, a SIMD vector as
// vector instructions): `y += c·x` (`N_VLinearSum` with a = 1, the stage sums of Runge-Kutta and
// Rosenbrock methods), `y = c·x` (`N_VScale`), the finiteness test and the weighted sum of
// squares behind the RMS error norm (`N_VWrmsNorm`, with the weights of ``errorWeight``).
//
// Every operation is component by component in index order, and a default and an override
// compute each component with the same operations in the same order: which implementation runs
// never changes a bit (the conformance suite, `DiffEqCoreTests/StateConformanceTests`, checks
// every override against the formula).

/// A state vector of scalars the solvers can step: `[S]` for any ``DiffEqScalar``, the
/// fixed-size ``FixedVector`` (``StaticVector`` over `Double`, or over dual numbers), and
/// `SIMD2`...`SIMD64` of `Double`.
///
/// Conform by supplying ``count``, the subscript and ``zeroed()``; the fused operations have
/// defaults. A conforming type must keep value semantics (a copy never changes when the original
/// is written).
public protocol DiffEqState {
    associatedtype Scalar: DiffEqScalar

    /// Number of components.
    var count: Int { get }
    /// Component `index`, `0 ..< count`.
    subscript(index: Int) -> Scalar { get set }
    /// A state of the same length with every component zero (a buffer of this shape).
    func zeroed() -> Self

    /// `self[m] += x[m]·c` for every component (`N_VLinearSum(1, self, c, x)`): one term of a
    /// stage sum `u + Σ_j (h a_ij) k_j`.
    mutating func addScaled(_ x: Self, _ c: Double)
    /// `self[m] = x[m]·c` for every component (`N_VScale`).
    mutating func assignScaled(_ x: Self, _ c: Double)
    /// `true` when every component (value and partials) is finite.
    var isFiniteState: Bool { get }
    /// `Σ_m ‖self[m]‖² / w_m²` over every component of each scalar, with the error weight
    /// `w_m = errorWeight(abstol: abstol[m].primal, reltol: reltol, a[m].primal, b[m].primal)`:
    /// the sum inside the RMS error norm of an error estimate `self` for a step from `a` to `b`
    /// (divide by `count · Scalar.componentCount` and take the root, ``ErrorScale/finish(_:count:as:)``).
    ///
    /// `viaReciprocal` chooses the rounding of each term: `‖e‖² · (1/w²)` (the explicit
    /// Runge-Kutta methods' embedded estimates) or `‖e‖² / w²` (every other estimate). Both are
    /// kept because each method's steps, and the benchmark hashes, depend on the one it has
    /// always used.
    func weightedSumOfSquares(from a: Self, to b: Self, abstol: Self, reltol: Double, viaReciprocal: Bool) -> Double

    /// After an accepted step, `previous ← current ← proposed` (the loop's `uPrev`, `u`, `uNew`);
    /// `proposed` is scratch afterwards. The default rotates the three (an array's buffers change
    /// hands: nothing is copied or allocated); a value state (`StaticState`) assigns twice
    /// instead of swapping twice, a third of the moves.
    static func acceptProposal(previous: inout Self, current: inout Self, proposed: inout Self)

    /// The components as an array, as the callbacks and the domain test see a state (an array
    /// state is itself, with no copy).
    var componentArray: [Scalar] { get }
    /// A state of this shape holding `values` (`values.count == count`; an array state is
    /// `values` itself).
    func replacingComponents(_ values: [Scalar]) -> Self

    // The stage block of a Runge-Kutta step, in the state's own layout (StageBlock.swift): the
    // fused `N_VLinearCombination` over it keeps each form's summation order and its bits.

    /// What a stage block holds: `Self` (one value per stage, the default) or, for an array,
    /// its scalars (``stageStride`` of them per stage, stage-major).
    associatedtype StageElement = Self
    /// Elements of a stage block per stage: 1 for a value, `count` for an array.
    var stageStride: Int { get }
    /// A zero element of a stage block (to fill a new one).
    var stageElementZero: StageElement { get }
    /// Writes this state as stage `j` of `block`.
    func store(into block: UnsafeMutablePointer<StageElement>, stage j: Int)
    /// Component `m` of stage `j` of `block` (`stride`: ``stageStride``).
    static func component(_ m: Int, ofStage j: Int, in block: UnsafePointer<StageElement>, stride: Int) -> Scalar
    /// `self = base + Σ_{j<count} k_j·(scale·c_j)` over the stages `k_j` of `stages`, summed in
    /// stage order for each component (`N_VLinearCombination`).
    mutating func linearCombination(
        base: Self, stages: UnsafePointer<StageElement>, coefficients c: UnsafePointer<Double>, scale: Double, count: Int)
    /// `Σ_m ‖e_m‖²·(1/w_m²)` of the error estimate `e = 0 + Σ_{j<count} k_j·(scale·c_j)` of a
    /// step from `a` to `b`, without forming `e` as a state where the layout allows (the explicit
    /// RK embedded estimates: ``weightedSumOfSquares(from:to:abstol:reltol:viaReciprocal:)`` of
    /// `e`, `viaReciprocal: true`). The weights' absolute parts are `abstol` for a value state
    /// and `tolerance.abstol` for an array (the same numbers).
    static func weightedStageSumOfSquares(
        stages: UnsafePointer<StageElement>, coefficients c: UnsafePointer<Double>, scale: Double, count: Int,
        from a: Self, to b: Self, abstol: Self, tolerance: ErrorScale) -> Double

    // Gathered sums over a stage block (GatheredStageSums.swift): a linearly implicit method's
    // stage sums have few nonzero terms (Rosenbrock: `u + Σ_k w_k U_{j_k}` over the tableau's
    // nonzero entries), so they name their terms by offset rather than running over every stage.

    /// `self = base + Σ_{first≤k<last} U_{o_k}·w_k`, added onto `base` term by term in order,
    /// where `o_k = offsets[k]` is where the term's stage starts in the block (stage `j` at
    /// `j·stageStride`) and `w_k = coefficients[k]`.
    mutating func gatheredCombination(
        base: Self, stages: UnsafePointer<StageElement>, offsets: UnsafePointer<Int>,
        coefficients w: UnsafePointer<Double>, terms first: Int, to last: Int)
    /// Writes `(a + b·c) + (0 + Σ_{first≤k<last} U_{o_k}·(w_k·scale))` (the `b·c` term only
    /// when `addingB`) into the block slot at `slot` (`stageStride` elements): a Rosenbrock
    /// stage's right-hand side `f + h d_i ∂f/∂t + Σ_j (C_ij/h) U_j`, formed where it is then
    /// solved in place.
    static func storeGatheredSum(
        into slot: UnsafeMutablePointer<StageElement>, _ a: Self, plus b: Self, scaledBy c: Double, addingB: Bool,
        stages: UnsafePointer<StageElement>, offsets: UnsafePointer<Int>, coefficients w: UnsafePointer<Double>,
        scale: Double, terms first: Int, to last: Int)
    /// `Σ_m ‖e_m‖²/w_m²` of `e = 0 + Σ_{first≤k<last} U_{o_k}·w_k` (a gathered error estimate)
    /// for a step from `a` to `b`: ``weightedSumOfSquares(from:to:abstol:reltol:viaReciprocal:)``
    /// of `e` with `viaReciprocal: false`, without forming `e` as a state where the layout allows.
    static func gatheredWeightedSumOfSquares(
        stages: UnsafePointer<StageElement>, offsets: UnsafePointer<Int>, coefficients w: UnsafePointer<Double>,
        terms first: Int, to last: Int, from a: Self, to b: Self, abstol: Self, tolerance: ErrorScale) -> Double

    // The stages of an implicit (SDIRK) step in the z form (NewtonStageOperations.swift): each
    // stage starts from a gathered sum and a predictor and is corrected by simplified Newton
    // iterations whose residual and correction are solved in a slot of the stage block.

    /// Starts an implicit stage: `self = base + Σ_{first≤k<last} U_{o_k}·(w_k·scale)` (the stage's
    /// `ũ_i`, added term by term in order as ``gatheredCombination(base:stages:offsets:coefficients:terms:to:)``),
    /// `z = U_p·c` (the predictor: the stage starting at block offset `p`; zero when `p < 0`)
    /// and `argument = self + z`, `f`'s first argument.
    mutating func startImplicitStage(
        z: inout Self, argument: inout Self, base: Self, stages: UnsafePointer<StageElement>,
        offsets: UnsafePointer<Int>, coefficients w: UnsafePointer<Double>, scale: Double, terms first: Int,
        to last: Int, predictor p: Int, predictorScale c: Double)
    /// Writes `x·c − y` into the block slot at `slot` (`stageStride` elements): the simplified
    /// Newton residual `γh f(ũ + z) − z` of a z-form stage, then solved in place.
    static func storeNewtonResidual(
        into slot: UnsafeMutablePointer<StageElement>, _ x: Self, scaledBy c: Double, minus y: Self)
    /// Adds the solved correction `δ` (the block slot at `delta`) to `self` (`z`), sets
    /// `argument = base + self` (the next iterate's argument, and the stage's value) and returns
    /// `Σ_m ‖δ_m‖²/w_m²` with `w_m` the error weight of `a[m]` and `argument[m]`, as
    /// ``weightedSumOfSquares(from:to:abstol:reltol:viaReciprocal:)`` with `viaReciprocal: false`
    /// (the weights' absolute parts: `abstol` for a value state, `tolerance.abstol` for an array).
    mutating func addNewtonCorrection(
        _ delta: UnsafePointer<StageElement>, base: Self, argument: inout Self, from a: Self, abstol: Self,
        tolerance: ErrorScale) -> Double

    /// `self[m] = x[m]` for every component, in this state's storage (an array keeps its buffer).
    mutating func copyComponents(from x: Self)
    /// A value to leave in a stored buffer while the buffer is moved out into a local (`swap`):
    /// the empty array for an array (no allocation), `zeroed()` otherwise. Never read.
    func vacated() -> Self
    /// A stepper's scratch buffer `stored` as a local for the length of a step, so that the
    /// local is uniquely owned (an array's buffer changes hands: no copy, no reference
    /// counting); ``returnScratch(_:to:)`` gives it back. A value state needs no stored buffer:
    /// the local is a fresh zero and `stored` is left alone. The contents do not persist.
    static func takeScratch(_ stored: inout Self) -> Self
    /// Gives back a buffer taken with ``takeScratch(_:)`` (nothing for a value state).
    static func returnScratch(_ local: inout Self, to stored: inout Self)
}

extension DiffEqState {
    @inlinable
    public mutating func addScaled(_ x: Self, _ c: Double) {
        for m in 0..<count { self[m] += x[m].scaled(by: c) }
    }

    @inlinable
    public mutating func assignScaled(_ x: Self, _ c: Double) {
        for m in 0..<count { self[m] = x[m].scaled(by: c) }
    }

    @inlinable
    public var isFiniteState: Bool {
        var finite = true
        for m in 0..<count { finite = finite && self[m].isFiniteScalar }
        return finite
    }

    @inlinable
    public func weightedSumOfSquares(from a: Self, to b: Self, abstol: Self, reltol: Double, viaReciprocal: Bool) -> Double {
        var sum = 0.0
        for m in 0..<count {
            let w = errorWeight(abstol: abstol[m].primal, reltol: reltol, a[m].primal, b[m].primal)
            if viaReciprocal {
                sum += self[m].sumOfSquaredComponents * (1 / (w * w))
            } else {
                sum += self[m].sumOfSquaredComponents / (w * w)
            }
        }
        return sum
    }

    /// ``weightedSumOfSquares(from:to:abstol:reltol:viaReciprocal:)`` with each term `‖e‖² / w²`.
    @inlinable
    public func weightedSumOfSquares(from a: Self, to b: Self, abstol: Self, reltol: Double) -> Double {
        weightedSumOfSquares(from: a, to: b, abstol: abstol, reltol: reltol, viaReciprocal: false)
    }

    /// The scaled RMS norm `sqrt(weightedSumOfSquares / (count · componentCount))` of an error
    /// estimate (DESIGN.md §4: the partials of a dual state are controlled as its values).
    @inlinable
    public func weightedRMSNorm(from a: Self, to b: Self, abstol: Self, reltol: Double) -> Double {
        ErrorScale.finish(weightedSumOfSquares(from: a, to: b, abstol: abstol, reltol: reltol), count: count, as: Scalar.self)
    }

    /// The components as an array (reports, comparisons between state types).
    @inlinable
    public var components: [Scalar] { (0..<count).map { self[$0] } }

    @inlinable public var componentArray: [Scalar] { components }

    @inlinable @inline(__always)
    public static func acceptProposal(previous: inout Self, current: inout Self, proposed: inout Self) {
        swap(&previous, &current)
        swap(&current, &proposed)
    }

    @inlinable public func replacingComponents(_ values: [Scalar]) -> Self { assigning(values) }

    /// A state of this shape holding `values` (`values.count == count`).
    @inlinable
    public func assigning(_ values: [Scalar]) -> Self {
        var out = self
        for m in 0..<count { out[m] = values[m] }
        return out
    }

    /// A state of this shape with every component `Scalar(values[m])` (tolerances, the options'
    /// initial values).
    @inlinable
    public func assigning(primal values: [Double]) -> Self {
        var out = self
        for m in 0..<count { out[m] = Scalar(values[m]) }
        return out
    }
}

// MARK: - Arrays

extension Array {
    /// `count` copies of `value`, as `Array(repeating:count:)`, allocated by code that specializes
    /// in the caller: `Array(repeating:count:)` allocates through the standard library's
    /// unspecialized `_allocateUninitialized`, which looks up the storage class's metadata on
    /// every call. Allocating, filling and releasing one Double: 815 instructions that way, 473
    /// this way, 582 by appending the repeated value to an empty array (callgrind, -O). Only
    /// for callers that specialize (the explicit RK and delay setups): unspecialized, the
    /// sequence copy looks up `Repeated`'s conformances on every call, some 18 k instructions.
    @inlinable
    package init(specializedRepeating value: Element, count: Int) {
        self.init(repeatElement(value, count: count))
    }
}

extension Array: DiffEqState where Element: DiffEqScalar {
    public typealias Scalar = Element
    public typealias StageElement = Element

    // `Array(repeating:count:)`, not `Array(specializedRepeating:count:)`: `zeroed()` is also
    // called where nothing is specialized (a stepper's non-inlinable init), and there the
    // latter's sequence copy looks up `Repeated`'s conformances on every call (about 18 k
    // instructions a call: Rodas5P HIRES 20,266 -> 22,226 instructions per attempt, nine calls
    // per solve); the former costs some 340 more where it is specialized.
    @inlinable
    public func zeroed() -> [Element] { [Element](repeating: .zero, count: count) }

    // The array operations through the buffers: no bounds checks or uniqueness checks inside
    // the loop (the uniqueness check of `self` is paid once per call).
    @inlinable
    public mutating func addScaled(_ x: [Element], _ c: Double) {
        let n = Swift.min(count, x.count)
        x.withUnsafeBufferPointer { xp in
            withUnsafeMutableBufferPointer { yp in
                for m in 0..<n { yp[m] += xp[m].scaled(by: c) }
            }
        }
    }

    @inlinable
    public mutating func assignScaled(_ x: [Element], _ c: Double) {
        let n = Swift.min(count, x.count)
        x.withUnsafeBufferPointer { xp in
            withUnsafeMutableBufferPointer { yp in
                for m in 0..<n { yp[m] = xp[m].scaled(by: c) }
            }
        }
    }

    @inlinable
    public var isFiniteState: Bool {
        withUnsafeBufferPointer { x in
            for m in 0..<x.count where !x[m].isFiniteScalar { return false }
            return true
        }
    }

    @inlinable public var componentArray: [Element] { self }

    @inlinable public func replacingComponents(_ values: [Element]) -> [Element] { values }

    @inlinable
    public func weightedSumOfSquares(
        from a: [Element], to b: [Element], abstol: [Element], reltol: Double, viaReciprocal: Bool
    ) -> Double {
        let n = Swift.min(count, a.count, b.count, abstol.count)
        var sum = 0.0
        withUnsafeBufferPointer { e in
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    abstol.withUnsafeBufferPointer { tol in
                        for m in 0..<n {
                            let w = errorWeight(abstol: tol[m].primal, reltol: reltol, a[m].primal, b[m].primal)
                            if viaReciprocal {
                                sum += e[m].sumOfSquaredComponents * (1 / (w * w))
                            } else {
                                sum += e[m].sumOfSquaredComponents / (w * w)
                            }
                        }
                    }
                }
            }
        }
        return sum
    }
}

// MARK: - Fixed-size states

extension StaticState {
    // As whole values: a SIMD state's operations are vector instructions, a FixedVector's loops
    // of compile-time length.
    @inlinable @inline(__always)
    public mutating func addScaled(_ x: Self, _ c: Double) { self = self + x * c }

    @inlinable @inline(__always)
    public mutating func assignScaled(_ x: Self, _ c: Double) { self = x * c }

    @inlinable @inline(__always)
    public func zeroed() -> Self { Self() }

    @inlinable @inline(__always)
    public static func acceptProposal(previous: inout Self, current: inout Self, proposed: inout Self) {
        previous = current
        current = proposed
    }

    // Over `scalarCount`, a constant of the type: for SIMD8 the optimizer turns this into vector
    // compares (the default over `count` compiled to a branch per component, +119 instructions
    // per HIRES Rodas5P step under callgrind).
    @inlinable
    public var isFiniteState: Bool {
        var finite = true
        for i in 0..<scalarCount { finite = finite && self[i].isFiniteScalar }
        return finite
    }
}

extension SIMD2: DiffEqState where Scalar == Double { @inlinable public var count: Int { scalarCount } }
extension SIMD3: DiffEqState where Scalar == Double {
    @inlinable public var count: Int { scalarCount }

    // `x − x` is +0 for a finite `x` and NaN for ±∞ and NaN, so the lanes' sum is 0 exactly when
    // every lane is finite: the same answer as the loop over lanes, in one vector subtraction
    // and two adds. With three lanes in a four-lane register the optimizer keeps that loop as a
    // loop that spills the vector and reloads one lane per pass (13 instructions a lane; SIMD2,
    // SIMD4 and SIMD8 get straight-line code), and the loop tests every candidate step.
    @inlinable @inline(__always)
    public var isFiniteState: Bool { (self - self).sum() == 0 }
}
extension SIMD4: DiffEqState where Scalar == Double { @inlinable public var count: Int { scalarCount } }
extension SIMD8: DiffEqState where Scalar == Double { @inlinable public var count: Int { scalarCount } }
extension SIMD16: DiffEqState where Scalar == Double { @inlinable public var count: Int { scalarCount } }
extension SIMD32: DiffEqState where Scalar == Double { @inlinable public var count: Int { scalarCount } }
extension SIMD64: DiffEqState where Scalar == Double { @inlinable public var count: Int { scalarCount } }
